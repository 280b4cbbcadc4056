export { MemberRegistry, type MemberRecord } from './registry';
export { Streams } from './streams';
