export { startSubmissionServer } from './server';
export { nodemailerPeers, type PeerDelivery } from './peer';
export { GatewayRelay, type RelayTrust } from './gateway-relay';
