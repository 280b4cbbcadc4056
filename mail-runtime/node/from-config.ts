import type { RuntimeConfigOf } from '../config';
import type { NodeOptions } from './start';

/** RuntimeConfig (role node) → NodeOptions. The health port is the member's management port. */
export function nodeOptionsFromConfig(cfg: RuntimeConfigOf<'node'>): NodeOptions {
  const l = cfg.listen;
  return {
    memberId: cfg.memberId,
    hostname: cfg.hostname,
    storagePath: cfg.storage.path,
    listen: {
      imap: l.imap,
      ...(l.imaps ? { imaps: l.imaps } : {}),
      pop3: l.pop3,
      ...(l.pop3s ? { pop3s: l.pop3s } : {}),
      health: cfg.management,
    },
    ...(cfg.tls ? { tls: { certFile: cfg.tls.certFile, keyFile: cfg.tls.keyFile } } : {}),
    plaintextAuth: cfg.plaintextAuth,
    ...(cfg.directory ? { directory: { file: cfg.directory.file } } : {}),
    ...(cfg.limits.maxConnections ? { maxConnections: cfg.limits.maxConnections } : {}),
  };
}
