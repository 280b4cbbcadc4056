/**
 * `mailfleet run --role failover-controller --config <file>`: watches the
 * primary and fails over (mail-runtime/main.ts ROLE_ENTRIES); stops cleanly
 * on SIGTERM/SIGINT.
 */
import { Counter, Gauge } from 'prom-client';
import { createLogger } from '../common/log';
import type { RuntimeConfigOf } from '../config';
import { createRegistry, startHealthServer } from '../net';
import { FailoverController } from './controller';

export async function runFailoverController(cfg: RuntimeConfigOf<'failover-controller'>): Promise<{ healthPort: number }> {
  const log = createLogger({ role: 'failover-controller', member: cfg.memberId, cluster: cfg.cluster, site: cfg.site }, cfg.logLevel);
  const ctl = new FailoverController(cfg, log);
  const registry = createRegistry({ member: cfg.memberId, role: 'failover-controller' });
  const rounds = new Counter({ name: 'mailfleet_failover_probe_rounds_total', help: 'Probe rounds against the primary', registers: [registry] });
  const failed = new Counter({ name: 'mailfleet_failover_probe_failed_rounds_total', help: 'Probe rounds in which a probe of the primary failed', registers: [registry] });
  const states = ['watching', 'alerted', 'failing-over', 'failed-over', 'failover-failed'] as const;
  new Gauge({
    name: 'mailfleet_failover_state',
    help: '1 for the state the controller is in (watching, alerted, failing-over, failed-over, failover-failed)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      for (const s of states) this.set({ state: s }, ctl.status().state === s ? 1 : 0);
    },
  });
  ctl.onRound = (ok) => {
    rounds.inc();
    if (!ok) failed.inc();
  };
  const health = await startHealthServer({ host: cfg.management.host, port: cfg.management.port, ready: () => true, registry, info: { role: 'failover-controller', memberId: cfg.memberId } });
  ctl.start();
  log.info({ mode: cfg.mode, probes: cfg.probes, primary: ctl.primary.target, standby: ctl.standby.target }, 'watching the primary');
  const stop = (signal: string): void => {
    log.info({ signal }, 'stopping');
    Promise.all([ctl.close(), health.close()]).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return { healthPort: health.port };
}
