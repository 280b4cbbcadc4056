import type { RuntimeConfigOf } from '../config';
import type { NodeOptions } from './start';

type NodeConfig = RuntimeConfigOf<'node'>;

/**
 * RuntimeConfig (role node) → NodeOptions. The health port is the member's
 * management port. Every default was already applied by the schema; this
 * only moves values, it decides none.
 */
export function nodeOptionsFromConfig(cfg: NodeConfig): NodeOptions {
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
    ...(cfg.tls ? { tls: cfg.tls } : {}),
    plaintextAuth: cfg.plaintextAuth,
    ...(cfg.directory ? { directory: { file: cfg.directory.file } } : {}),
    limits: cfg.limits,
  };
}

/**
 * Fields of a node config whose feature this runtime does not have yet; the
 * node says so in one warning at start instead of ignoring them silently.
 * (components/ renders them for every node so a deployment stays the same
 * once LMTP, submission and the hub client land.)
 */
export function unservedNodeFields(cfg: NodeConfig): string[] {
  const out = ['listen.lmtp (LMTP delivery, RFC 2033)'];
  if (cfg.listen.submission) out.push('listen.submission (message submission, RFC 6409)');
  return out;
}
