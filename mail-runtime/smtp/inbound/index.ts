export { startMxListener, type MxListener } from './server';
export { LocalConnectionLimit, MessageRate, type ConnectionAdmission } from './admission';
export { INBOUND_LIMITS } from './limits';
