export { HubLease } from './lease';
