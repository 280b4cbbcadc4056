export { MemberRegistry, type MemberRecord, type RegistryEvents, type RegistryOptions } from './registry';
export { Streams, STREAM_MAX_BUFFERED_BYTES } from './streams';
export { processGone, probePort, PROBE_TIMEOUT_MS, type ProbeResult } from './probe';
