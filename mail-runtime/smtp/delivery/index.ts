export { QueueRunner, DELETED_REPLY, type RunnerOptions, type DsnBuilder, type DeliveryMetrics } from './runner';
export { LmtpPool, type LmtpDelivery, type LmtpPoolOptions } from './lmtp';
export { retryDelay, type RetrySchedule } from './backoff';
