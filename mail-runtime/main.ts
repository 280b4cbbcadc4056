import type { RuntimeConfig } from './config';
// Loaded with this module: the controller is small (probes, HTTP clients), unlike the mail roles loaded on demand below.
import { runFailoverController } from './failover/main';

/**
 * Role dispatch: one program, one role per process (DESIGN.md). Returns a
 * description of what was started, for the ready line the launcher reads.
 */
export type RoleStart = (cfg: RuntimeConfig) => Promise<Record<string, unknown>>;

export const ROLE_ENTRIES: Record<RuntimeConfig['role'], RoleStart> = {
  hub: async (cfg) => {
    if (cfg.role !== 'hub') throw new Error('unreachable');
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS lazy load: only a hub loads SQLite
    const { runHub } = require('./hub/main') as typeof import('./hub/main');
    const h = await runHub(cfg);
    return { httpPort: h.httpPort, healthPort: h.healthPort, url: h.url, active: h.hub.isActive };
  },
  proxy: async (cfg) => {
    if (cfg.role !== 'proxy') throw new Error('unreachable');
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS lazy load: only a proxy loads the front ends
    const { runProxy } = require('./proxy/main') as typeof import('./proxy/main');
    const p = await runProxy(cfg);
    return { imapPort: p.imapPort, imapsPort: p.imapsPort, pop3Port: p.pop3Port, pop3sPort: p.pop3sPort, submissionPort: p.submissionPort, smtpsPort: p.smtpsPort, healthPort: p.healthPort };
  },
  node: async (cfg) => {
    if (cfg.role !== 'node') throw new Error('unreachable');
    // Loaded on demand: a gateway process has no business loading IMAP.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS lazy load (a dynamic import would need a .js path under nodenext)
    const { runNode } = require('./node/main') as typeof import('./node/main');
    const n = await runNode(cfg);
    const { imapPort, imapsPort, pop3Port, pop3sPort, lmtpPort, submissionPort, smtpsPort, healthPort } = n;
    return { imapPort, imapsPort, pop3Port, pop3sPort, lmtpPort, submissionPort, smtpsPort, healthPort };
  },
  gateway: async (cfg) => {
    if (cfg.role !== 'gateway') throw new Error('unreachable');
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS lazy load, as for the node
    const { runGateway } = require('./gateway/main') as typeof import('./gateway/main');
    const g = await runGateway(cfg);
    return { smtpPort: g.smtpPort, healthPort: g.healthPort, queueFolder: g.queue.name, queueEpoch: g.queue.epoch };
  },
  all: async (cfg) => {
    if (cfg.role !== 'all') throw new Error('unreachable');
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- CommonJS lazy load, as for the node
    const { runPairMember } = require('./failover/member') as typeof import('./failover/member');
    return { ...(await runPairMember(cfg)) };
  },
  'failover-controller': async (cfg) => {
    if (cfg.role !== 'failover-controller') throw new Error('unreachable');
    return { ...(await runFailoverController(cfg)) };
  },
};

export async function startRole(cfg: RuntimeConfig): Promise<Record<string, unknown>> {
  return ROLE_ENTRIES[cfg.role](cfg);
}
