/**
 * `mailfleet run --role all`: the member of one site of a failover pair
 * (issue 13). One process serves the site's mail: the node part (IMAP,
 * POP3, LMTP, submission on the site's one store) and the gateway part (the
 * inbound MX and its durable queue, delivering to the node part's LMTP).
 *
 * It serves only while it holds the site lease (./lease.ts) on the shared
 * storage both sites reach:
 * - at start it takes the lease, or continues the one a controller took for
 *   it (`mailfleet failover promote` / an automatic failover name the
 *   standby as holder before starting it); it refuses to start while the
 *   other site holds a fresh lease;
 * - it renews every quarter of `leaseTtlMs`; the moment a renewal fails or a
 *   higher epoch appears it fences itself: listeners closed, sessions ended,
 *   `/readyz` 503, nothing written any more;
 * - every store write checks it: the mailbox epoch is the site epoch, so
 *   the other site's first open of a mailbox puts a higher marker beside it
 *   (store/epoch.ts), and before acknowledging any write the store asks
 *   `stillOwner()`, which reads the site's epoch markers on disk. A paused
 *   member that wakes up after a takeover acknowledges nothing.
 *
 * The hub part (./site-hub.ts) keeps the directory in the hub's SQLite
 * files on the shared storage and serves the admin API on `listen.http`:
 * `mailfleet user add --hub http://<active member>:<http port>` manages the
 * pair, and after a failover the standby's hub part opens the same files,
 * so the users move with the lease. `hostedDomains` and `directory.file`
 * only seed what the directory lacks.
 *
 * No proxy part: a pair site has one member, so every mailbox's owner is
 * this process. The proxy's job (read the login, find the owning node, pipe
 * the session there) would be a loopback hop to the listeners beside it,
 * costing a second copy of every byte and nothing gained; the node part's
 * listeners are the client-facing ones, with the same connection and login
 * limits a proxy would not add to.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Gauge } from 'prom-client';
import { createLogger, type Logger } from '../common/log';
import type { RuntimeConfigOf } from '../config';
import { gatewayOptionsFromConfig, startGateway, type RunningGateway } from '../gateway';
import { createRegistry, startHealthServer, type HealthServer } from '../net';
import { nodeOptionsFromConfig, startNode, type RunningNode } from '../node';
import { LeaseHeldError, SiteLease } from './lease';
import { startSiteHub, type SiteHub } from './site-hub';

type AllConfig = RuntimeConfigOf<'all'>;

/** Renewals per TTL: a member that misses three in a row still holds the lease on the fourth. */
const RENEWALS_PER_TTL = 4;

export interface RunningPairMember {
  epoch: number;
  imapPort: number;
  imapsPort?: number;
  pop3Port: number;
  pop3sPort?: number;
  lmtpPort: number;
  submissionPort?: number;
  smtpsPort?: number;
  smtpPort: number;
  /** The hub part's admin API (`mailfleet … --hub`). */
  httpPort: number;
  healthPort: number;
  /** Resolves once the member has fenced itself (lease lost), with the reason. */
  fenced: Promise<string>;
  close(): Promise<void>;
}

/** Internal loopback endpoint for the parts' own health servers: the member's management port is the one that counts. */
const INTERNAL = { host: '127.0.0.1', port: 0 };

/**
 * Takes the site lease for `me`, or continues the one named for it. Throws
 * LeaseHeldError while another member's lease is fresh.
 */
async function acquire(lease: SiteLease, me: string, log: Logger): Promise<number> {
  const cur = await lease.read();
  // A renewal of the old holder can race a takeover and put its own, lower-epoch record back into lease.json:
  // the highest epoch marker is what counts, and it names who took it.
  const top = await lease.highestEpoch();
  if (cur && top > cur.epoch) {
    if ((await lease.markerHolder(top)) === me && (await lease.renew(me, top))) {
      log.info({ epoch: top, stale: { holder: cur.holder, epoch: cur.epoch } }, 'continuing the site lease named for this member (its record had been overwritten by the old holder’s last renewal)');
      return top;
    }
  }
  if (cur && cur.holder === me) {
    if (await lease.renew(me, cur.epoch)) {
      log.info({ epoch: cur.epoch }, 'continuing the site lease named for this member');
      return cur.epoch;
    }
    throw new LeaseHeldError(`the site lease names ${me} at epoch ${cur.epoch}, but a higher epoch exists: another member took over`);
  }
  if (cur && SiteLease.fresh(cur)) {
    throw new LeaseHeldError(
      `the site lease is held by ${cur.holder} (epoch ${cur.epoch}, renewed ${cur.renewedAt}, fresh for ${SiteLease.remainingMs(cur)} ms more): ` +
        'this site is the standby; `mailfleet failover promote` takes over',
    );
  }
  const rec = await lease.take(me);
  log.info({ epoch: rec.epoch, previous: cur ? { holder: cur.holder, epoch: cur.epoch } : null }, 'took the site lease');
  return rec.epoch;
}

/** Queue folders of the other site's gateway part: taken over at start so their mail is delivered here, and their old owner fenced. */
async function peerQueueFolders(storagePath: string, me: string): Promise<string[]> {
  try {
    const names = await fs.promises.readdir(path.join(storagePath, 'queue'), { withFileTypes: true });
    return names.filter((d) => d.isDirectory() && d.name !== me).map((d) => d.name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

async function startPairMember(cfg: AllConfig, log: Logger): Promise<RunningPairMember> {
  const lease = new SiteLease(cfg.storage.path, cfg.leaseTtlMs);
  const me = cfg.memberId;
  const epoch = await acquire(lease, me, log);
  let renewedAt = Date.now();
  let fencedReason: string | undefined;
  let onFenced: (reason: string) => void = () => undefined;
  const fenced = new Promise<string>((r) => (onFenced = r));

  /** In memory, for the store's check before each write: never past the last renewal's TTL. */
  const canWrite = (): boolean => fencedReason === undefined && Date.now() - renewedAt < cfg.leaseTtlMs;
  /** After each durable write, before it is acknowledged: also on disk, so a takeover a moment ago is seen. */
  const stillOwner = async (): Promise<boolean> => canWrite() && (await lease.highestEpoch()) <= epoch;

  const registry = createRegistry({ member: me, role: 'all' });
  let hub: SiteHub | undefined;
  let node: RunningNode | undefined;
  let gateway: RunningGateway | undefined;
  let health: HealthServer | undefined;
  // Renewing from the moment the lease is ours: starting the parts may take longer than the TTL on a loaded machine.
  let stopping: Promise<void> | undefined;
  const stopParts = (): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(timer);
      await Promise.allSettled([gateway?.close(), node?.close()]);
      await hub?.close();
    })();
    return stopping;
  };
  const fence = (reason: string): void => {
    if (fencedReason !== undefined) return;
    fencedReason = reason;
    log.error({ epoch, reason }, 'site lease lost: fenced, no longer serving');
    void stopParts().then(() => onFenced(reason));
  };
  let renewing = false;
  const timer = setInterval(
    () => {
      if (renewing || fencedReason !== undefined) return;
      // Past the TTL (a paused process, a stalled disk): fenced before anything else runs.
      if (Date.now() - renewedAt >= cfg.leaseTtlMs) return fence(`no renewal for ${Date.now() - renewedAt} ms (lease TTL ${cfg.leaseTtlMs} ms)`);
      renewing = true;
      const began = Date.now();
      lease.renew(me, epoch).then(
        (held) => {
          renewing = false;
          if (held) renewedAt = began;
          else void lease.highestEpoch().then((h) => fence(`a higher epoch (${h}) or another holder took the site lease (ours ${epoch})`), () => fence('the site lease was taken over'));
        },
        (err: unknown) => {
          renewing = false;
          fence(`cannot renew the site lease: ${err instanceof Error ? err.message : String(err)}`);
        },
      );
    },
    Math.max(50, Math.floor(cfg.leaseTtlMs / RENEWALS_PER_TTL)),
  );

  const l = cfg.listen;
  try {
    health = await startHealthServer({
      host: cfg.management.host,
      port: cfg.management.port,
      ready: () => hub !== undefined && node !== undefined && gateway !== undefined && canWrite(),
      registry,
      info: { role: 'all', memberId: me },
    });
    hub = await startSiteHub(cfg, { epoch, canWrite }, log.child({ part: 'hub' }));
    // The node part as a node role runs it (one mapper), but with the hub part's users and the site lease as its ownership.
    const nodeOpts = nodeOptionsFromConfig(cfg);
    node = await startNode({
      ...nodeOpts,
      listen: { ...nodeOpts.listen, health: INTERNAL },
      directory: hub.directory,
      // The mailbox epoch is the site epoch: the other site's first open of a mailbox fences this one's writes to it.
      epochFor: () => ({ epoch, stillOwner, canWrite }),
      owns: () => canWrite(),
      log: log.child({ part: 'node' }),
    });
    hub.nodeListening({
      imap: node.imapPort,
      pop3: node.pop3Port,
      lmtp: node.lmtpPort,
      ...(node.imapsPort !== undefined ? { imaps: node.imapsPort } : {}),
      ...(node.pop3sPort !== undefined ? { pop3s: node.pop3sPort } : {}),
      ...(node.submissionPort !== undefined ? { submission: node.submissionPort } : {}),
      ...(node.smtpsPort !== undefined ? { smtps: node.smtpsPort } : {}),
    });
    const lmtp = { memberId: me, host: l.lmtp.host === '0.0.0.0' || l.lmtp.host === '::' ? '127.0.0.1' : l.lmtp.host, port: node.lmtpPort };
    // The gateway part as a gateway role runs it (filters, outbound included); hosted mail goes to the node part beside it.
    const gatewayOpts = gatewayOptionsFromConfig(cfg);
    const { directory: _file, ...gatewayRest } = gatewayOpts;
    gateway = await startGateway({
      ...gatewayRest,
      listen: { ...gatewayOpts.listen, health: INTERNAL },
      router: hub.router(() => lmtp),
      log: log.child({ part: 'gateway' }),
    });
    for (const folder of await peerQueueFolders(cfg.storage.path, me)) {
      const adopted = await gateway.takeOver(folder);
      log.info({ folder, adopted }, "took over the other site's queue folder");
    }
  } catch (err) {
    await stopParts();
    await health?.close();
    throw err;
  }
  if (fencedReason !== undefined) {
    await stopParts();
    await health.close();
    throw new LeaseHeldError(`lost the site lease while starting: ${fencedReason}`);
  }

  new Gauge({
    name: 'mailfleet_site_lease_epoch',
    help: 'Epoch of the site lease this member holds (-1 once fenced)',
    registers: [registry],
    collect() {
      this.set(fencedReason === undefined ? epoch : -1);
    },
  });

  return {
    epoch,
    imapPort: node.imapPort,
    ...(node.imapsPort !== undefined ? { imapsPort: node.imapsPort } : {}),
    pop3Port: node.pop3Port,
    ...(node.pop3sPort !== undefined ? { pop3sPort: node.pop3sPort } : {}),
    lmtpPort: node.lmtpPort,
    ...(node.submissionPort !== undefined ? { submissionPort: node.submissionPort } : {}),
    ...(node.smtpsPort !== undefined ? { smtpsPort: node.smtpsPort } : {}),
    smtpPort: gateway.smtpPort,
    httpPort: hub.httpPort,
    healthPort: health.port,
    fenced,
    close: async () => {
      await stopParts();
      await health.close();
    },
  };
}

/** @public Loaded lazily by ../main.ts through require(), which knip cannot follow. The role entry: logs, the fenced line on stdout, clean stop on SIGTERM/SIGINT. */
export async function runPairMember(cfg: AllConfig): Promise<Omit<RunningPairMember, 'fenced' | 'close'>> {
  const log = createLogger({ role: 'all', member: cfg.memberId, cluster: cfg.cluster, site: cfg.site }, cfg.logLevel);
  const m = await startPairMember(cfg, log);
  // One JSON line, as the ready line: operators' tooling and tests read it.
  void m.fenced.then((reason) => process.stdout.write(`${JSON.stringify({ fenced: true, memberId: cfg.memberId, epoch: m.epoch, reason })}\n`));
  const stop = (signal: string): void => {
    log.info({ signal }, 'stopping');
    m.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  const { fenced: _f, close: _c, ...ports } = m;
  return ports;
}
