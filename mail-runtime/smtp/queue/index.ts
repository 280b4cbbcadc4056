export type { QueueEntry, QueuedRecipient, RecipientStatus, DeliveryResult, QueueWriter } from './types';
export { QueueFolder, type ClaimOptions } from './folder';
export { QueueError, type QueueErrorCode } from './errors';
export { isComplete } from './entry';
export { newQueueId, folderPaths, queueRoot, FOLDER_NAME, QUEUE_ID, type FolderPaths } from './layout';
export { loadFolder, findEntry, readMessageAt, type FolderState, type Location } from './files';
export { newestMarker } from './owner';
export { writeControl, ControlRequest, type PendingControl } from './control';
export type { FsyncStats } from './fsync';
