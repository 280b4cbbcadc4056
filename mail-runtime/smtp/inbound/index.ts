export { startMxListener, type MxListener, type MxListenerOptions } from './server';
export { MessageRate } from './admission';
export { INBOUND_LIMITS } from './limits';
