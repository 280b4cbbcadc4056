/**
 * `mailfleet run --role gateway --config <file>`: the CLI calls runGateway
 * (through mail-runtime/main.ts ROLE_ENTRIES); it stops cleanly on SIGTERM/SIGINT.
 */
import { join } from 'node:path';
import { HubClient, HubLink, PlacementCache, hubUrlsOf, readClusterSecrets } from '../cluster';
import { createLogger, type Logger } from '../common/log';
import type { RuntimeConfigOf } from '../config';
import { gatewayOptionsFromConfig, unservedGatewayFields } from './from-config';
import { HubRouter } from './hub-router';
import { heldQueueFolders, ownQueueFolder } from './queue-folders';
import { startGateway, type RunningGateway } from './start';

type GatewayConfig = RuntimeConfigOf<'gateway'>;

/** Software version reported to the hub (as the proxy reports it; the hub's module is not loaded here). */
const RUNTIME_VERSION = '0.1.0';

/**
 * In a cluster (hubUrl/hubUrls): the router asks the hub's directory what
 * a recipient is and follows the hub's placement for the owner node's LMTP,
 * cached under the member's state path so a gateway restarted while no hub
 * answers still delivers; the gateway registers and heartbeats like every
 * member. Without a hub: the static `placement` of the config.
 */
function clusterRouting(cfg: GatewayConfig, log: Logger): { router: HubRouter; link: (ports: Record<string, number>, gateway: RunningGateway) => HubLink; cache: PlacementCache } | undefined {
  const urls = hubUrlsOf(cfg);
  if (urls.length === 0) return undefined;
  const { token, caPem } = readClusterSecrets(cfg);
  const cache = new PlacementCache(join(cfg.storage.path, 'members', cfg.memberId, 'placement.json'), log);
  const client = new HubClient({ urls, token, ...(caPem ? { caPem } : {}), log });
  // Beside the placement cache: a gateway restarted while no hub answers still knows its recipients.
  const router = new HubRouter({ client, placement: cache, log, cacheFile: join(cfg.storage.path, 'members', cfg.memberId, 'recipients.json') });
  const link = (ports: Record<string, number>, gateway: RunningGateway): HubLink =>
    new HubLink({
      urls: [...urls],
      token,
      ...(caPem ? { ca: caPem } : {}),
      cache,
      log,
      stats: () => gateway.stats(),
      // Cluster settings (blocklist, connection cap) applied live; the heartbeats report the version.
      settings: (s) => gateway.applySettings(s),
      // A gone gateway's folder, at the hub's epoch: claimed once, delivered from like our own.
      queue: async (folder, epoch) => {
        if (gateway.folders().includes(folder)) return;
        const adopted = await gateway.takeOver(folder, epoch);
        log.info({ folder, epoch, adopted }, 'took over a queue folder the hub assigned');
      },
      register: { memberId: cfg.memberId, role: 'gateway', site: cfg.site, version: RUNTIME_VERSION, advertise: cfg.advertise, ports },
    });
  return { router, link, cache };
}

/** @public Loaded lazily by ../main.ts through require(), which knip cannot follow. */
export async function runGateway(cfg: GatewayConfig): Promise<RunningGateway> {
  // Every line names the cluster and site too: logs of many members are read side by side.
  const log = createLogger({ role: 'gateway', member: cfg.memberId, cluster: cfg.cluster, site: cfg.site }, cfg.logLevel);
  const unserved = unservedGatewayFields(cfg);
  if (unserved.length) log.warn({ fields: unserved }, 'configured but not served by this version yet');
  const cluster = clusterRouting(cfg, log);
  await cluster?.cache.load();
  await cluster?.router.load();
  // In a cluster a folder the hub gave to another gateway while this one was gone stays theirs (./queue-folders.ts).
  const queueFolder = cluster ? await ownQueueFolder(cfg.storage.path, cfg.memberId) : undefined;
  const gateway = await startGateway({ ...gatewayOptionsFromConfig(cfg), ...(cluster ? { router: cluster.router } : {}), ...(queueFolder ? { queueFolder } : {}), log });
  if (queueFolder !== undefined && queueFolder !== cfg.memberId) log.warn({ queueFolder }, 'this gateway’s queue folder was taken over while it was gone; queuing in a new one');
  // Folders taken over before a restart are still ours: deliver from them again.
  for (const folder of queueFolder !== undefined ? await heldQueueFolders(cfg.storage.path, cfg.memberId, queueFolder) : []) {
    log.info({ folder, adopted: await gateway.takeOver(folder) }, 'delivering again from a queue folder this gateway took over before');
  }
  const link = cluster?.link({ smtp: gateway.smtpPort, management: gateway.healthPort }, gateway);
  link?.start();
  const stop = (signal: string): void => {
    log.info({ signal }, 'stopping');
    Promise.resolve(link?.stop())
      .then(() => cluster?.router.flush())
      .then(() => gateway.close())
      .then(
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
