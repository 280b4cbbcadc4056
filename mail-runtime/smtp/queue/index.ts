export type { QueueEntry, QueuedRecipient, DeliveryResult, QueueWriter } from './types';
export { QueueFolder } from './folder';
export { QueueError } from './errors';
export { isComplete } from './entry';
export { newQueueId, folderPaths, queueRoot, FOLDER_NAME, type FolderPaths } from './layout';
export { loadFolder, findEntry, readMessageAt, type Location } from './files';
export { newestMarker } from './owner';
export { writeControl, type PendingControl } from './control';
