/**
 * `mailfleet run --role gateway --config <file>`: the CLI calls runGateway
 * (through mail-runtime/main.ts ROLE_ENTRIES); it stops cleanly on SIGTERM/SIGINT.
 */
import { createLogger } from '../common/log';
import type { RuntimeConfigOf } from '../config';
import { gatewayOptionsFromConfig, unservedGatewayFields } from './from-config';
import { startGateway, type RunningGateway } from './start';

/** @public Loaded lazily by ../main.ts through require(), which knip cannot follow. */
export async function runGateway(cfg: RuntimeConfigOf<'gateway'>): Promise<RunningGateway> {
  // Every line names the cluster and site too: logs of many members are read side by side.
  const log = createLogger({ role: 'gateway', member: cfg.memberId, cluster: cfg.cluster, site: cfg.site }, cfg.logLevel);
  log.warn({ fields: unservedGatewayFields(cfg) }, 'configured but not served by this version yet');
  const gateway = await startGateway({ ...gatewayOptionsFromConfig(cfg), log });
  const stop = (signal: string): void => {
    log.info({ signal }, 'stopping');
    gateway.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return gateway;
}
