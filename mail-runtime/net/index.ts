export { connectionId } from './conn-id';
export { normalizeIp, isLoopback, addressKey, plaintextAuthAllowed, type PlaintextAuthPolicy } from './address';
export { loadTls, type TlsFiles, type TlsMaterial } from './tls';
export { startTls } from './starttls';
export { listen, type Listener, type ListenerKind, type ListenOptions } from './listener';
export { startHealthServer, createRegistry, type HealthServer, type HealthServerOptions } from './health';
export { LineSplitter } from './line-reader';
export { ConnectionLimit, type Admission, type ConnectionPolicy, type RefusalReason } from './connection-limit';
export { serveSessions, type AcceptedConnection, type ServedSession, type SessionServer, type ShutdownReason } from './session-server';
