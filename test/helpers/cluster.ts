import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../../mail-runtime/auth';
import { PlacementRules, PlacementSnapshot } from '../../mail-runtime/hub/protocol';
import { freePort } from './daemon';
import { api, CLUSTER_TOKEN, spawnMember, waitFor, writeTokens, type SpawnedProcess } from './hub';
import { imapAppend, imapConnect, imapLogin, message, quote } from './imap';
import { FAST_SCRYPT } from './users';

/**
 * A cluster of real processes on loopback for tests: hubs and nodes started
 * with `mailfleet run --config`, one storage folder shared by all, the admin
 * API to set things up and to watch the placement.
 */
export interface RunningMember extends SpawnedProcess {
  id: string;
  port(name: string): number;
}

export interface TestUserSpec {
  address: string;
  password: string;
}

export class TestCluster {
  readonly hubs = new Map<string, RunningMember>();
  readonly nodes = new Map<string, RunningMember>();
  readonly gateways = new Map<string, RunningMember>();
  readonly proxies = new Map<string, RunningMember>();
  hubUrls: string[] = [];
  private tokens!: { adminTokenFile: string; clusterTokenFile: string };

  private constructor(readonly dir: string) {}

  get storage(): string {
    return join(this.dir, 'storage');
  }

  static async create(prefix = 'mf-cluster-'): Promise<TestCluster> {
    const c = new TestCluster(await mkdtemp(join(tmpdir(), prefix)));
    c.tokens = await writeTokens(c.dir);
    await mkdir(c.storage, { recursive: true });
    return c;
  }

  /**
   * The small cluster most cluster tests start from: one hub (waited on
   * until active), `users` users in `domain`, the `nodes` (started side by
   * side) waited on until all are on the placement ring, then the gateway
   * if one is named. A start that fails stops what it had started.
   */
  static async small(opts: { prefix: string; domain: string; users: number; nodes: readonly string[]; gateway?: string }): Promise<{ cluster: TestCluster; users: TestUserSpec[] }> {
    const cluster = await TestCluster.create(opts.prefix);
    try {
      await cluster.planHubs(1);
      await cluster.startHub(0);
      await cluster.waitActive();
      const users = await cluster.addUsers(opts.domain, opts.users);
      await Promise.all(opts.nodes.map((id) => cluster.startNode(id)));
      await cluster.waitPlacement((p) => p.ring.length === opts.nodes.length, `${opts.nodes.join(', ')} on the ring`);
      if (opts.gateway) await cluster.startGateway(opts.gateway);
      return { cluster, users };
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** Waits (bounded) until one of the hubs answers as active; returns its URL. */
  async waitActive(timeoutMs = 30_000): Promise<string> {
    let url: string | undefined;
    await waitFor(async () => !!(url = await this.activeHub().catch(() => undefined)), 'a hub active', timeoutMs);
    return url!;
  }

  /** Fixes the hub URLs (ports chosen now) before any member starts. */
  async planHubs(count: number): Promise<void> {
    this.hubUrls = [];
    for (let i = 0; i < count; i++) this.hubUrls.push(`http://127.0.0.1:${await freePort()}`);
  }

  /** The active hub's URL (asks each hub). */
  async activeHub(): Promise<string> {
    for (const url of this.hubUrls) {
      try {
        const r = await api<{ active: boolean }>(url, 'GET', '/v1/hub', { token: null });
        if (r.body.active) return url;
      } catch {
        /* down */
      }
    }
    throw new Error('no active hub');
  }

  async startHub(index: number, extra: Record<string, unknown> = {}): Promise<RunningMember> {
    const id = `hub-${index}`;
    const url = new URL(this.hubUrls[index]!);
    const p = await spawnMember(join(this.dir, `${id}.json`), {
      role: 'hub',
      memberId: id,
      cluster: 'test',
      advertise: '127.0.0.1',
      management: { host: '127.0.0.1', port: 0 },
      storage: { path: this.storage },
      listen: { http: { host: '127.0.0.1', port: Number(url.port) } },
      ...this.tokens,
      logLevel: process.env.MAILFLEET_TEST_LOG ?? 'warn',
      ...extra,
    });
    const m: RunningMember = { ...p, id, port: (name) => Number(p.ready[`${name}Port`]) };
    this.hubs.set(id, m);
    return m;
  }

  async startNode(id: string, extra: Record<string, unknown> = {}): Promise<RunningMember> {
    const lo = { host: '127.0.0.1', port: 0 };
    const p = await spawnMember(join(this.dir, `${id}.json`), {
      role: 'node',
      memberId: id,
      cluster: 'test',
      advertise: '127.0.0.1',
      management: lo,
      storage: { path: this.storage },
      listen: { imap: lo, pop3: lo, lmtp: lo },
      hubUrls: this.hubUrls,
      clusterTokenFile: this.tokens.clusterTokenFile,
      logLevel: process.env.MAILFLEET_TEST_LOG ?? 'warn',
      ...extra,
    });
    const m: RunningMember = { ...p, id, port: (name) => Number(p.ready[`${name}Port`]) };
    this.nodes.set(id, m);
    return m;
  }

  /** A login-aware proxy routing by this cluster's placement (IMAP and POP3 on free loopback ports). */
  async startProxy(id: string, extra: Record<string, unknown> = {}): Promise<RunningMember> {
    const lo = { host: '127.0.0.1', port: 0 };
    const p = await spawnMember(join(this.dir, `${id}.json`), {
      role: 'proxy',
      memberId: id,
      cluster: 'test',
      advertise: '127.0.0.1',
      management: lo,
      storage: { path: this.storage },
      listen: { imap: lo, pop3: lo, submission: lo },
      hubUrls: this.hubUrls,
      clusterTokenFile: this.tokens.clusterTokenFile,
      logLevel: process.env.MAILFLEET_TEST_LOG ?? 'warn',
      ...extra,
    });
    const m: RunningMember = { ...p, id, port: (name) => Number(p.ready[`${name}Port`]) };
    this.proxies.set(id, m);
    return m;
  }

  /** A gateway (MX on a free loopback port) that asks this cluster's hub what a recipient is and delivers over LMTP to the owner. */
  async startGateway(id: string, extra: Record<string, unknown> = {}): Promise<RunningMember> {
    const lo = { host: '127.0.0.1', port: 0 };
    const p = await spawnMember(join(this.dir, `${id}.json`), {
      role: 'gateway',
      memberId: id,
      cluster: 'test',
      advertise: '127.0.0.1',
      management: lo,
      storage: { path: this.storage },
      listen: { smtp: lo },
      hostname: 'mx.test',
      hubUrls: this.hubUrls,
      clusterTokenFile: this.tokens.clusterTokenFile,
      logLevel: process.env.MAILFLEET_TEST_LOG ?? 'warn',
      ...extra,
    });
    const m: RunningMember = { ...p, id, port: (name) => Number(p.ready[`${name}Port`]) };
    this.gateways.set(id, m);
    return m;
  }

  async admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const url = await this.activeHub();
    const r = await api<T>(url, method, path, body === undefined ? {} : { body });
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** A domain and users with known passwords (cheap scrypt parameters). */
  async addUsers(domain: string, count: number): Promise<TestUserSpec[]> {
    await this.admin('POST', '/v1/domains', { name: domain });
    const users: TestUserSpec[] = [];
    for (let i = 0; i < count; i++) {
      const u = { address: `user${i}@${domain}`, password: `password-${i}` };
      await this.admin('POST', '/v1/users', { address: u.address, passwordHash: await hashPassword(u.password, FAST_SCRYPT) });
      users.push(u);
    }
    return users;
  }

  /** The committed placement, as members get it. */
  async placement(): Promise<PlacementRules> {
    const url = await this.activeHub();
    const r = await api(url, 'GET', '/v1/cluster/placement', { token: CLUSTER_TOKEN });
    return new PlacementRules(PlacementSnapshot.parse(r.body));
  }

  /** Waits (bounded) until the placement satisfies `pred`. */
  async waitPlacement(pred: (p: PlacementRules) => boolean, what: string, timeoutMs = 30_000): Promise<PlacementRules> {
    let last: PlacementRules | undefined;
    await waitFor(
      async () => {
        try {
          last = await this.placement();
          return pred(last);
        } catch {
          return false;
        }
      },
      what,
      timeoutMs,
    );
    return last!;
  }

  /** Waits (bounded) until no placement change is in progress, and returns the placement then. */
  async settled(timeoutMs = 30_000): Promise<PlacementRules> {
    await waitFor(async () => (await this.admin<{ pending: unknown }>('GET', '/v1/placement').catch(() => ({ pending: 'unknown' }))).pending === null, 'placement settled', timeoutMs);
    return this.placement();
  }

  async members(): Promise<{ id: string; state: string; nodeState: string | null; deathReason: string | null; applied: { settings: number } | null }[]> {
    return (await this.admin<{ members: { id: string; state: string; nodeState: string | null; deathReason: string | null; applied: { settings: number } | null }[] }>('GET', '/v1/members')).members;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.proxies.values(), ...this.gateways.values(), ...this.nodes.values(), ...this.hubs.values()].map((m) => m.stop()));
    if (!process.env.MAILFLEET_TEST_KEEP) await rm(this.dir, { recursive: true, force: true });
  }
}

/** The tagged reply to LOGIN at a node's IMAP port. */
export async function loginResult(port: number, u: TestUserSpec): Promise<string> {
  const { c } = await imapConnect(port);
  const res = await c.command('L', `LOGIN ${quote(u.address)} ${quote(u.password)}`);
  c.socket.destroy();
  return res[res.length - 1]!;
}

/** APPENDs one message (Message-ID from `subject`, see helpers/imap message()); returns the tagged reply. */
export async function appendTo(port: number, u: TestUserSpec, subject: string): Promise<string> {
  const c = await imapLogin(port, u.address, u.password);
  try {
    const res = await imapAppend(c, 'A', 'INBOX', message(subject));
    return res[res.length - 1]!;
  } finally {
    c.socket.destroy();
  }
}

/** Message-IDs in a user's INBOX, through IMAP on `port`. */
export async function messageIds(port: number, u: TestUserSpec): Promise<string[]> {
  const c = await imapLogin(port, u.address, u.password);
  try {
    await c.command('S', 'SELECT INBOX');
    const lines = await c.command('F', 'FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])');
    return lines.filter((l) => /^message-id:/i.test(l)).map((l) => l.replace(/^message-id:\s*/i, '').trim());
  } finally {
    c.socket.destroy();
  }
}

/** Epoch markers of a mailbox on the shared storage (mail-runtime/store/epoch.ts). */
export async function epochMarkers(storage: string, address: string): Promise<number[]> {
  const [local, domain] = address.split('@') as [string, string];
  const dir = join(storage, 'mail', domain, local, 'mailfleet', 'user', 'epochs');
  return (await readdir(dir)).filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
}

/** What a steady append load did: per user, the Message-IDs acknowledged (APPEND OK) and every one ever sent. */
export interface LoadResult {
  acked: Map<string, string[]>;
  sent: Map<string, Set<string>>;
  failures: number;
}

/**
 * A steady, bounded append load: `rounds` rounds, each one APPEND per user
 * to the node the committed placement names as owner now. A refused or
 * failed APPEND is tried again (a new Message-ID per try, so a write that
 * landed without its OK shows up as itself) at most `maxTries` times.
 * `tag` starts every Message-ID (one per load). `onAcked` runs after every acknowledged APPEND (the test pulls its
 * trigger there).
 */
export async function appendLoad(cluster: TestCluster, tag: string, users: readonly TestUserSpec[], rounds: number, onAcked: (total: number) => void = () => undefined, maxTries = 40): Promise<LoadResult> {
  const res: LoadResult = { acked: new Map(users.map((u) => [u.address, []])), sent: new Map(users.map((u) => [u.address, new Set()])), failures: 0 };
  let total = 0;
  await Promise.all(
    users.map(async (u, ui) => {
      for (let r = 0; r < rounds; r++) {
        let done = false;
        for (let t = 0; t < maxTries && !done; t++) {
          const subject = `${tag}-u${ui}-r${r}-t${t}`;
          const id = `<${subject.replace(/\W/g, '')}@example.org>`;
          try {
            const owner = (await cluster.placement()).ownerOf(u.address);
            const m = owner ? cluster.nodes.get(owner) : undefined;
            if (!m) throw new Error(`no running owner for ${u.address}`);
            res.sent.get(u.address)!.add(id);
            const reply = await appendTo(m.port('imap'), u, subject);
            if (/^A OK/.test(reply)) {
              res.acked.get(u.address)!.push(id);
              done = true;
              onAcked(++total);
            } else res.failures++;
          } catch {
            res.failures++;
          }
          if (!done) await new Promise((r2) => setTimeout(r2, 250));
        }
        if (!done) throw new Error(`${u.address}: round ${r} not acknowledged after ${maxTries} tries`);
      }
    }),
  );
  return res;
}

/**
 * Nothing acknowledged is lost, nothing is there twice, nothing is there
 * that was not sent: checked against the mailbox as its owner serves it now.
 */
export async function checkLoad(cluster: TestCluster, users: readonly TestUserSpec[], load: LoadResult): Promise<{ acked: number; found: number }> {
  const p = await cluster.placement();
  let acked = 0;
  let found = 0;
  for (const u of users) {
    const owner = p.ownerOf(u.address)!;
    const ids = await messageIds(cluster.nodes.get(owner)!.port('imap'), u);
    const a = load.acked.get(u.address)!;
    const sent = load.sent.get(u.address)!;
    const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
    if (dupes.length) throw new Error(`${u.address}: served twice: ${dupes.join(' ')}`);
    const lost = a.filter((id) => !ids.includes(id));
    if (lost.length) throw new Error(`${u.address}: acknowledged but lost: ${lost.join(' ')}`);
    const stray = ids.filter((id) => !sent.has(id));
    if (stray.length) throw new Error(`${u.address}: never sent: ${stray.join(' ')}`);
    acked += a.length;
    found += ids.length;
  }
  return { acked, found };
}
