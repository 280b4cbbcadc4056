export { QueueTakeovers } from './takeover';
