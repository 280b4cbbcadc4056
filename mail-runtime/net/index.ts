export { connectionId } from './conn-id';
export { normalizeIp, isLoopback, plaintextAuthAllowed, type PlaintextAuthPolicy } from './address';
export { loadTls, type TlsFiles, type TlsMaterial } from './tls';
export { startTls } from './starttls';
export { listen, type Listener, type ListenerKind, type ListenOptions } from './listener';
export { startHealthServer, createRegistry, type HealthServer, type HealthServerOptions } from './health';
export { LineSplitter } from './line-reader';
export { ConnectionLimit, serveSessions, type AcceptedConnection, type ServedSession, type SessionServer } from './session-server';
