/**
 * SORT and THREAD (RFC 5256, RFC 5957 SORT=DISPLAY): criteria, ordering and
 * threading over prepared per-message records, paced and bounded. Knows
 * nothing about mailboxes or storage.
 */
export type { Pacer } from './pace';
export { pacedSort, WorkBudget, WorkExceeded } from './pace';
export type { SortCriterion, SortMessage } from './sort';
export { parseSortCriteria, sortMessages } from './sort';
export type { ThreadAlgorithm, ThreadNode } from './thread';
export { formatThreads, orderedSubject, references, THREAD_ALGORITHMS } from './thread';
