import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isPasswordHash, normalizeAddress, parseUsersFile, verifyPassword, hashPassword, type AuthContext, type Directory, type DirectoryUser } from '../auth';
import type { Logger } from '../common/log';
import type { RuntimeConfigOf } from '../config';
import { clusterTlsPem, Hub, readSecretFile, startHubApiFirst, timingOf, type ActiveLease, type ActiveLeaseEvents } from '../hub';
import type { PlacementNode, Recipient } from '../hub/protocol';
import { NoPlacementError, type LmtpTarget, type Route, type Router } from '../smtp/routing';

type AllConfig = RuntimeConfigOf<'all'>;

/**
 * The hub part of a failover-pair member (issue 13): the directory
 * (domains, users, aliases) in the hub's SQLite files on the shared storage
 * (`<storage>/hub/`), and the admin API on `listen.http`, so
 * `mailfleet user add --hub <active member>` manages the pair. Its state is
 * on the storage both sites reach, so it moves with the site lease: the
 * promoted standby's hub opens the same files and serves the same users.
 *
 * The site lease decides when this hub is active (SiteHubLease below): one
 * member per site, so there is nobody else to elect, and the hub is active
 * at the moment the member holds the lease (no `deadAfterSeconds` wait for
 * an old hub lease to lapse), and writes nothing once the member has fenced
 * itself. Placement is this member: the node part serves every mailbox, so
 * the placement map stays empty and the node and gateway parts read the
 * directory in process (no HTTP hop, no cache to invalidate). What the admin
 * API shows as placement (`mailfleet placement show`, the dashboard) is
 * this member's node part as the one owner at the site epoch, once
 * `nodeListening` has said where it listens (HubOptions.soleNode).
 *
 * The files are opened with SQLite's normal locking, not the hub role's
 * exclusive lock: a primary frozen with them open (SIGSTOP, a VM pause, a
 * cut link) holds no lock while idle, so the promoted standby opens them.
 * A directory write checks the site lease before it starts; one that a
 * freeze catches between that check and its commit can still land after a
 * takeover (an admin change the operator got no answer for), which is why
 * the directory holds no mail: mail writes re-check the epoch after their
 * durable write (store/epoch.ts).
 */

/** Alias chains longer than this are a loop in the directory, not a route (as the cluster gateway's HubRouter). */
const MAX_ALIAS_DEPTH = 8;
/** Addresses one recipient may expand to (the admin API allows 100 forwarding targets per user). */
const MAX_EXPANSION = 100;

/** The site lease as the hub's lease: active from start while the member may write. */
class SiteHubLease implements ActiveLease {
  private active = false;

  constructor(
    private readonly epoch: number,
    private readonly url: string,
    private readonly canWrite: () => boolean,
    private readonly events: ActiveLeaseEvents,
  ) {}

  async start(): Promise<void> {
    this.active = true;
    await this.events.onActive(this.epoch);
  }

  async stop(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    await this.events.onStandby('the member stopped serving');
  }

  holds(): boolean {
    return this.active && this.canWrite();
  }

  get currentEpoch(): number {
    return this.epoch;
  }

  get activeUrl(): string | undefined {
    return this.active ? this.url : undefined;
  }
}

/** The node part's logins, read from the active hub's directory on each attempt (one B-tree probe). */
class SiteDirectory implements Directory {
  private dummy: Promise<string> | undefined;

  constructor(private readonly hub: Hub) {}

  async authenticate(user: string, password: string, ctx: AuthContext): Promise<DirectoryUser | null> {
    const u = this.hub.active().directory.memberUser(normalizeAddress(user));
    if (!u) {
      // The same work as a real check, so response time does not tell which names exist.
      if (ctx.passwords) await ctx.passwords.unknownUser(password);
      else {
        this.dummy ??= hashPassword('not-a-real-password');
        await verifyPassword(password, await this.dummy);
      }
      return null;
    }
    const ok = ctx.passwords ? await ctx.passwords.verify(password, u.passwordHash) : await verifyPassword(password, u.passwordHash);
    return ok && u.enabled ? { address: u.address, ...(u.quota ? { quota: { ...u.quota } } : {}) } : null;
  }

  lookup(address: string): Promise<DirectoryUser | null> {
    const u = this.hub.active().directory.memberUser(normalizeAddress(address));
    return Promise.resolve(u && u.enabled ? { address: u.address, ...(u.quota ? { quota: { ...u.quota } } : {}) } : null);
  }
}

/** The gateway part's router: what an address is from the directory; every mailbox is on this member's node part. */
class SiteRouter implements Router {
  constructor(
    private readonly hub: Hub,
    private readonly lmtp: () => LmtpTarget | undefined,
  ) {}

  private recipient(address: string): Recipient {
    return this.hub.active().directory.recipient(address);
  }

  route(address: string): Promise<Route> {
    let addr = normalizeAddress(address);
    for (let depth = 0; depth < MAX_ALIAS_DEPTH; depth++) {
      const r = this.recipient(addr);
      switch (r.kind) {
        case 'not-hosted':
          return Promise.resolve({ kind: 'remote', address: addr, domain: addr.slice(addr.lastIndexOf('@') + 1) });
        case 'unknown':
          return Promise.resolve({ kind: 'unknown-user', address: addr });
        case 'mailbox': {
          const node = this.lmtp();
          if (!node) return Promise.reject(new NoPlacementError(r.address));
          return Promise.resolve({ kind: 'local', address: r.address, node });
        }
        case 'alias':
          addr = normalizeAddress(r.targets[0]!);
          break;
      }
    }
    return Promise.reject(new Error(`${address}: alias chain longer than ${MAX_ALIAS_DEPTH}`));
  }

  /** RFC 5321 §3.9: aliases and forwarding expand before routing; depth and fan-out bounded, each address once. */
  expand(address: string): Promise<readonly string[]> {
    const out: string[] = [];
    const seen = new Set<string>();
    const walk = (addr: string, depth: number): void => {
      if (seen.has(addr)) return;
      seen.add(addr);
      if (depth >= MAX_ALIAS_DEPTH) throw new Error(`${address}: alias chain longer than ${MAX_ALIAS_DEPTH}`);
      const r = this.recipient(addr);
      const next = r.kind === 'alias' ? r.targets : r.kind === 'mailbox' && r.forwardTo.length ? r.forwardTo : undefined;
      if (!next) out.push(addr);
      else {
        if (r.kind === 'mailbox' && r.keepCopy) out.push(addr);
        for (const t of next) walk(normalizeAddress(t), depth + 1);
      }
      if (out.length > MAX_EXPANSION) throw new Error(`${address}: expands to more than ${MAX_EXPANSION} addresses`);
    };
    try {
      walk(normalizeAddress(address), 0);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return Promise.resolve(out);
  }
}

/**
 * The boot lists of the config (`hostedDomains`, `directory.file`) as a seed:
 * what the directory lacks is added, nothing there is changed, so an
 * operator's later `mailfleet user passwd` or `user remove` stands across
 * restarts. (Pairs deployed before the hub part keep their users.)
 */
async function seedDirectory(hub: Hub, cfg: AllConfig, log: Logger): Promise<void> {
  const dir = hub.active().directory;
  const domains = new Set(cfg.hostedDomains.map((d) => d.toLowerCase()));
  const entries = cfg.directory ? parseUsersFile(await readFile(cfg.directory.file, 'utf8'), cfg.directory.file) : new Map();
  for (const key of entries.keys()) domains.add(key.slice(key.lastIndexOf('@') + 1));
  let added = 0;
  for (const name of domains) {
    // Hosted already, as a domain or as another's alias domain.
    if (dir.recipient(`postmaster@${name}`).kind !== 'not-hosted') continue;
    dir.addDomain({ name, aliases: [], catchAll: null, dkim: null, defaultQuota: null, placement: { mode: 'split' } });
    added++;
  }
  for (const [key, e] of entries) {
    if (key !== e.user.address) continue;
    if (dir.memberUser(key) || dir.recipient(key).kind === 'alias') continue;
    if (!isPasswordHash(e.hash)) {
      log.warn({ user: key, file: cfg.directory?.file }, 'users file: only scrypt hashes can seed the hub directory; this user was left out (set a password with `mailfleet user add`)');
      continue;
    }
    dir.addUser({ address: key, passwordHash: e.hash, quota: e.user.quota ?? null, enabled: !e.disabled, forwardTo: [], keepCopy: true });
    added++;
  }
  for (const [key, e] of entries) {
    if (key === e.user.address || dir.recipient(key).kind !== 'unknown') continue;
    if (!dir.memberUser(e.user.address)) continue;
    dir.addAlias({ address: key, targets: [e.user.address] });
    added++;
  }
  if (added) log.info({ added, file: cfg.directory?.file }, 'seeded the hub directory from the config (existing entries left as they are)');
}

export interface SiteHub {
  hub: Hub;
  url: string;
  httpPort: number;
  /** For the node part's logins. */
  directory: Directory;
  /** For the gateway part; `lmtp` is the node part's LMTP endpoint once it listens. */
  router(lmtp: () => LmtpTarget | undefined): Router;
  /** The node part listens: from now on the placement routes show it as the owner of every mailbox. */
  nodeListening(ports: Record<string, number>): void;
  close(): Promise<void>;
}

/** Starts the hub part: admin API on `listen.http`, active with the site epoch while `canWrite()`. */
export async function startSiteHub(cfg: AllConfig, site: { epoch: number; canWrite: () => boolean }, log: Logger): Promise<SiteHub> {
  const adminToken = readSecretFile('adminTokenFile', cfg.adminTokenFile, false);
  if (!adminToken) log.warn('no adminTokenFile: the admin API is disabled on this member (users come from the config seed only)');
  const readOnlyToken = readSecretFile('readOnlyTokenFile', cfg.readOnlyTokenFile, false);
  // No other member talks to a pair member's cluster API; an unguessable token keeps it closed unless one is configured.
  const clusterToken = readSecretFile('clusterTokenFile', cfg.clusterTokenFile, false) ?? randomBytes(32).toString('hex');
  // HTTPS with the cluster certificate when one is configured, as the hub role serves it (hub/main.ts).
  const { api, url, attach } = await startHubApiFirst(cfg, { tls: clusterTlsPem(cfg), adminToken, readOnlyToken, clusterToken, log });
  let node: PlacementNode | undefined;
  const hub = new Hub({
    memberId: cfg.memberId,
    url,
    storageRoot: cfg.storage.path,
    timing: timingOf(cfg),
    log,
    lease: (events) => new SiteHubLease(site.epoch, url, site.canWrite, events),
    // A frozen primary (SIGSTOP, a VM pause, a cut link) keeps its files open: it must not keep the promoted standby out.
    dbLocking: 'normal',
    // Serving only while the member may write: a fenced member's hub is not active anyway, and its node part owns nothing.
    soleNode: () => (node && site.canWrite() ? { node, epoch: site.epoch } : undefined),
  });
  attach(hub);
  try {
    await hub.start();
    await seedDirectory(hub, cfg, log);
  } catch (err) {
    await hub.stop().catch(() => undefined);
    await api.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    hub,
    url,
    httpPort: api.port,
    directory: new SiteDirectory(hub),
    router: (lmtp) => new SiteRouter(hub, lmtp),
    nodeListening: (ports) => {
      node = { id: cfg.memberId, state: 'active', site: cfg.site, advertise: cfg.advertise, ports, incarnation: 0 };
    },
    close: () =>
      (closing ??= (async () => {
        await hub.stop();
        await api.close();
      })()),
  };
}
