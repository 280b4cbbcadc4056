export { startSubmissionServer } from './server';
export { nodemailerPeers, type PeerDelivery } from './peer';
