export { startMxListener, type MxListener, type MxListenerOptions } from './server';
export { LocalConnectionLimit, MessageRate, type ConnectionAdmission, type Admission, type RefusalReason } from './admission';
export { INBOUND_LIMITS } from './limits';
export type { InboundMetrics } from './context';
