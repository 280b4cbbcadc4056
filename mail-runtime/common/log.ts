import pino from 'pino';

/**
 * One structured logger per process. Session code makes children with
 * `{ cid, user, role, member }`; never log passwords or message bodies.
 */
export type Logger = pino.Logger;

export function createLogger(bindings: Record<string, string | number> = {}, level?: string): Logger {
  return pino({
    level: level ?? process.env.MAILFLEET_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
    base: { pid: process.pid, ...bindings },
    redact: { paths: ['password', 'pass', 'token', '*.password', '*.token'], censor: '[redacted]' },
  });
}
