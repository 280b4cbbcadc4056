export { startMxListener, type MxListener } from './server';
export { MessageRate } from './admission';
export { INBOUND_LIMITS } from './limits';
