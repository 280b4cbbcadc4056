export { startSubmissionServer, type SubmissionServerOptions } from './server';
export { nodemailerPeers, type PeerDelivery } from './peer';
