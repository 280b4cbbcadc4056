export { HubLease, LeaseRecord, type HubLeaseOptions } from './lease';
