export { startSubmissionServer } from './server';
export { nodemailerPeers, type PeerDelivery } from './peer';
export { GatewayRelay } from './gateway-relay';
