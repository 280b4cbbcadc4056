export { QueueRunner, DELETED_REPLY, type DsnBuilder } from './runner';
export { LmtpPool } from './lmtp';
