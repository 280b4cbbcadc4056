export { normalizeIp, isLoopback, addressKey, plaintextAuthAllowed, type PlaintextAuthPolicy } from './address';
export { loadTls, type TlsFiles, type TlsMaterial } from './tls';
export { startTls } from './starttls';
export { listen, type Listener, type ListenerKind } from './listener';
export { encodeProxyV2, parseProxyV2, PROXY_LIMITS } from './proxy-protocol';
export { startHealthServer, createRegistry, type HealthServer } from './health';
export { LineSplitter } from './line-reader';
export { ConnectionLimit, type RefusalReason } from './connection-limit';
export { serveSessions, type AcceptedConnection, type SessionServer, type ShutdownReason } from './session-server';
