import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { RenderedMember } from '../../components';
import { loadComponents } from '../load-components';

/**
 * `mailfleet up --local`: the cluster on this machine as child processes —
 * the hub (and standby hubs with `--hubs N`), the mail nodes, a gateway (MX on 2525) and a login-aware proxy
 * (IMAP 2143, POP3 2110, submission 2587, SMTPS 2465), each `mailfleet run --config <dir>/config/<id>.json`
 * with the config rendered from a local ClusterSpec (the same render the
 * Pulumi components use), one folder as shared storage. It creates the demo
 * domain and users through the hub's admin API on first start, waits until
 * every member is ready and every node is on the placement ring, writes
 * `<dir>/cluster.json`, restarts a member that exits (a small supervisor)
 * and stops everything on SIGINT/SIGTERM: the front doors first (proxy,
 * gateway), then the nodes, the hub last.
 */

export interface LocalClusterOptions {
  dir: string;
  /** Hubs: the first becomes active, the others are standbys that take over through the lease on the shared storage. */
  hubs: number;
  nodes: number;
  /** Added to every port (a second cluster, or a test beside a running one). */
  portOffset: number;
  restart: boolean;
  out(s: string): void;
  err(s: string): void;
}

const DEMO_DOMAIN = 'example.test';
/** Where the local cluster's proxy connects to the nodes from. */
const LOOPBACK = ['127.0.0.0/8', '::1/128'];
const DEMO_USERS = ['alice', 'bob'] as const;
/** How long members get to start and the cluster to settle before `up` gives up. */
const START_TIMEOUT_MS = 120_000;
/** A member that exits more often than this within RESTART_WINDOW_MS is left down. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
const RESTART_DELAY_MS = 1000;
/** SIGTERM, then SIGKILL after this long. */
const STOP_GRACE_MS = 10_000;

const DemoUsers = z.array(z.object({ address: z.string(), password: z.string() }));
type DemoUsers = z.infer<typeof DemoUsers>;

interface Member {
  id: string;
  role: RenderedMember['role'];
  configFile: string;
  config: Record<string, unknown>;
  child?: ChildProcess;
  ready?: Record<string, unknown>;
  restarts: number[];
  stopping: boolean;
}

function secret(file: string, make: () => string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const v = make();
  writeFileSync(file, `${v}\n`, { mode: 0o600 });
  return v;
}

/** Every `port` field of a rendered config shifted by `offset` (listen.*, management), and the hub URL with it. */
function shiftPorts(value: unknown, offset: number): unknown {
  if (offset === 0) return value;
  if (Array.isArray(value)) return value.map((v) => shiftPorts(v, offset));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === 'port' && typeof v === 'number' && v > 0) out[k] = v + offset;
      else if (k === 'hubUrl' && typeof v === 'string') out[k] = shiftUrl(v, offset);
      else if (k === 'hubUrls' && Array.isArray(v)) out[k] = v.map((u) => (typeof u === 'string' ? shiftUrl(u, offset) : u));
      else out[k] = shiftPorts(v, offset);
    }
    return out;
  }
  return value;
}

function shiftUrl(v: string, offset: number): string {
  const u = new URL(v);
  u.port = String(Number(u.port) + offset);
  return u.toString().replace(/\/$/, '');
}

async function adminCall<T>(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** A failure `until` does not retry. */
class FatalCall extends Error {}

async function until<T>(what: string, deadline: number, f: () => Promise<T | undefined>): Promise<T> {
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof FatalCall) throw err;
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (${(last as Error).message})` : ''}`);
}

export class LocalCluster {
  private readonly dir: string;
  private readonly members: Member[] = [];
  private readonly logs = new Map<string, WriteStream>();
  /** The hub that answered as active last (admin calls go there first). */
  private hubUrl = '';
  /** Every hub's admin URL, in member order; members get them all (`hubUrls`) and follow the active one. */
  private readonly hubUrls: string[] = [];
  private adminToken = '';
  private demo: DemoUsers = [];
  private readonly owners = new Map<string, string | null>();
  private stopped = false;

  constructor(private readonly o: LocalClusterOptions) {
    this.dir = resolve(o.dir);
  }

  /** Renders, starts and waits; resolves once the cluster serves (cluster.json written). */
  async start(): Promise<void> {
    for (const sub of ['config', 'secrets', 'logs', 'storage', 'tls']) mkdirSync(join(this.dir, sub), { recursive: true });
    const spec = loadComponents().parseClusterSpec({
      name: 'local',
      platform: { kind: 'local', dir: this.dir },
      domains: [{ name: DEMO_DOMAIN }],
      hubs: { count: this.o.hubs },
      nodes: { count: this.o.nodes },
      gateways: { count: 1 },
      proxies: { count: 1 },
    });
    const rendered = loadComponents().renderRuntimeConfigs(spec);
    this.adminToken = secret(join(this.dir, 'secrets', 'admin-token'), () => randomBytes(24).toString('base64url'));
    secret(join(this.dir, 'secrets', 'cluster-token'), () => randomBytes(24).toString('base64url'));
    const configs = rendered.map((m) => ({ m, config: shiftPorts(m.config, this.o.portOffset) as Record<string, unknown> }));
    for (const { m, config } of configs) {
      if (m.role !== 'hub') continue;
      const http = (config.listen as { http: { host: string; port: number } }).http;
      this.hubUrls.push(`http://${http.host}:${http.port}`);
    }
    this.hubUrl = this.hubUrls[0]!;
    for (const { m, config } of configs) {
      // Every member knows every hub: when the active hub dies, members follow the standby that takes the lease over.
      if (m.role !== 'hub' && this.hubUrls.length > 1) config.hubUrls = this.hubUrls;
      // Nodes are reached through the proxy, which tells them who the client is (PROXY v2): the nodes' per-address
      // login limits and logs see the client, not the proxy. Every member runs on loopback, so the nodes trust it.
      if (m.role === 'node') config.proxyProtocolFrom = LOOPBACK;
      if (m.role === 'proxy') config.proxy = { ...(config.proxy as Record<string, unknown>), sendProxyProtocol: true };
      const configFile = join(this.dir, 'config', `${m.memberId}.json`);
      writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
      this.members.push({ id: m.memberId, role: m.role, configFile, config, restarts: [], stopping: false });
    }
    const deadline = Date.now() + START_TIMEOUT_MS;
    // The first hub first, so it takes the lease; the standbys then watch it.
    const [firstHub, ...standbys] = this.members.filter((m) => m.role === 'hub');
    await this.spawn(firstHub!);
    await until('the hub to become active', deadline, async () => ((await this.activeHub()) ? true : undefined));
    await Promise.all(standbys.map((m) => this.spawn(m)));
    await this.demoUsers();
    await Promise.all(this.members.filter((m) => m.role === 'node').map((m) => this.spawn(m)));
    const nodeIds = this.members.filter((m) => m.role === 'node').map((m) => m.id);
    await until('every node on the placement ring', deadline, async () => {
      const p = await this.call<{ nodes: { id: string; state: string }[]; pending: unknown }>('GET', '/v1/placement');
      const active = new Set(p.body.nodes.filter((n) => n.state === 'active').map((n) => n.id));
      return nodeIds.every((id) => active.has(id)) && p.body.pending === null ? true : undefined;
    });
    // The front doors last: they route by the placement the nodes have just joined.
    await Promise.all(this.members.filter((m) => m.role === 'gateway' || m.role === 'proxy').map((m) => this.spawn(m)));
    await this.findOwners();
    this.writeClusterJson();
    this.o.out(this.describe());
  }

  /** The URL of the hub that says it is active now (each hub asked, the last active one first), or undefined. */
  private async activeHub(): Promise<string | undefined> {
    for (const url of [this.hubUrl, ...this.hubUrls.filter((u) => u !== this.hubUrl)]) {
      const r = await adminCall<{ active?: boolean }>(url, this.adminToken, 'GET', '/v1/hub').catch(() => undefined);
      if (r?.body?.active) {
        this.hubUrl = url;
        return url;
      }
    }
    return undefined;
  }

  /** An admin call to the active hub (found again when the one last used does not answer as active). */
  private async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const r = await adminCall<T & { error?: { code?: string } }>(this.hubUrl, this.adminToken, method, path, body).catch(() => undefined);
    if (r && !(r.status === 503 && r.body?.error?.code === 'not_active')) return r;
    const url = await this.activeHub();
    if (!url) throw new Error(`no active hub among ${this.hubUrls.join(', ')}`);
    return adminCall<T>(url, this.adminToken, method, path, body);
  }

  /** Which node serves each demo user now (placement moves it if that node dies: ask the hub again). */
  private async findOwners(): Promise<void> {
    for (const u of this.demo) {
      const r = await this.call<{ node: string | null }>('GET', `/v1/placement/owner/${encodeURIComponent(u.address)}`).catch(() => undefined);
      this.owners.set(u.address, r?.status === 200 ? r.body.node : null);
    }
  }

  private async demoUsers(): Promise<void> {
    const file = join(this.dir, 'secrets', 'demo-users.json');
    const known = existsSync(file) ? DemoUsers.parse(JSON.parse(readFileSync(file, 'utf8'))) : [];
    const d = await this.get(`/v1/domains/${DEMO_DOMAIN}`);
    if (d === 404) await this.must('POST', '/v1/domains', { name: DEMO_DOMAIN });
    const users: DemoUsers = [];
    for (const name of DEMO_USERS) {
      const address = `${name}@${DEMO_DOMAIN}`;
      const had = known.find((u) => u.address === address);
      const exists = (await this.get(`/v1/users/${encodeURIComponent(address)}`)) === 200;
      if (had && exists) {
        users.push(had);
        continue;
      }
      const password = randomBytes(12).toString('base64url');
      if (exists) await this.must('PUT', `/v1/users/${encodeURIComponent(address)}/password`, { password });
      else await this.must('POST', '/v1/users', { address, password });
      users.push({ address, password });
    }
    writeFileSync(file, `${JSON.stringify(users, null, 2)}\n`, { mode: 0o600 });
    this.demo = users;
  }

  /** The status of an admin GET (200 or 404), once the hub answers as the active one. */
  private get(path: string): Promise<number> {
    return until(`GET ${path}`, Date.now() + START_TIMEOUT_MS / 4, async () => {
      const r = await this.call<unknown>('GET', path);
      if (r.status === 200 || r.status === 404) return r.status;
      if (r.status === 503) return undefined;
      throw new FatalCall(`hub GET ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    });
  }

  /** One admin call that must succeed; `not_active` (a renewal of the hub's lease running late on a busy machine) is tried again. */
  private async must(method: string, path: string, body: unknown): Promise<void> {
    await until(`${method} ${path}`, Date.now() + START_TIMEOUT_MS / 4, async () => {
      const r = await this.call<{ error?: { code?: string } }>(method, path, body);
      if (r.status === 503 && r.body.error?.code === 'not_active') return undefined;
      if (r.status >= 300) throw new FatalCall(`hub ${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
      return true;
    });
  }

  private spawn(m: Member): Promise<void> {
    const bin = join(loadComponents().packageInfo().root, 'bin', 'mailfleet.js');
    let log = this.logs.get(m.id);
    if (!log) {
      log = createWriteStream(join(this.dir, 'logs', `${m.id}.log`), { flags: 'a' });
      this.logs.set(m.id, log);
    }
    const out = log;
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MAILFLEET_')));
    const child = spawn(process.execPath, [bin, 'run', '--config', m.configFile], { cwd: this.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    m.child = child;
    m.ready = undefined;
    child.stderr.pipe(out, { end: false });
    return new Promise((resolveReady, reject) => {
      let rest = '';
      child.stdout.on('data', (d: Buffer) => {
        out.write(d);
        if (m.ready) return;
        rest += d.toString();
        let nl: number;
        while ((nl = rest.indexOf('\n')) >= 0) {
          const line = rest.slice(0, nl);
          rest = rest.slice(nl + 1);
          try {
            const j = JSON.parse(line) as Record<string, unknown>;
            if (j.ready) {
              m.ready = j;
              if (this.members.every((x) => x.child === undefined || x.ready)) this.writeClusterJson();
              resolveReady();
              return;
            }
          } catch {
            /* a log line */
          }
        }
      });
      child.once('exit', (code, signal) => {
        if (!m.ready) reject(new Error(`${m.id} exited (${signal ?? code}) before it was ready; see ${join(this.dir, 'logs', `${m.id}.log`)}`));
        if (m.child === child) m.child = undefined;
        if (this.stopped || m.stopping) return;
        this.o.err(`mailfleet: ${m.id} exited (${signal ?? `code ${code}`})\n`);
        const now = Date.now();
        m.restarts = m.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
        if (!this.o.restart || m.restarts.length >= MAX_RESTARTS || !m.ready) {
          if (this.o.restart && m.ready) this.o.err(`mailfleet: ${m.id} exited ${MAX_RESTARTS} times within ${RESTART_WINDOW_MS / 1000} s; leaving it down\n`);
          return;
        }
        m.restarts.push(now);
        setTimeout(() => {
          if (this.stopped) return;
          this.spawn(m).then(
            () => this.o.err(`mailfleet: ${m.id} restarted (pid ${m.child?.pid})\n`),
            (err: unknown) => this.o.err(`mailfleet: ${(err as Error).message}\n`),
          );
        }, RESTART_DELAY_MS);
      });
    });
  }

  private endpoints(m: Member): Record<string, string> {
    const r = m.ready ?? {};
    const out: Record<string, string> = {};
    const host = String((m.config.advertise as string | undefined) ?? '127.0.0.1');
    for (const [k, v] of Object.entries(r)) {
      if (k.endsWith('Port') && typeof v === 'number') out[k.slice(0, -4)] = `${host}:${v}`;
    }
    return out;
  }

  private writeClusterJson(): void {
    const doc = {
      dir: this.dir,
      hub: { url: this.hubUrl, adminToken: this.adminToken },
      // Every hub's admin URL (the operator CLI tries each and uses the active one; `mailfleet status` shows which).
      hubs: this.members.filter((m) => m.role === 'hub').map((m, i) => ({ id: m.id, url: this.hubUrls[i]!, pid: m.child?.pid ?? null })),
      note: 'IMAP/POP3 clients connect to the proxy (it routes each login to the node that owns the mailbox); mail for the demo users goes to the gateway (MX); nodes are reached through these two',
      try: this.tryIt(),
      demoUsers: this.demo.map((u) => ({ ...u, servedBy: this.owners.get(u.address) ?? null })),
      members: this.members.map((m) => ({ id: m.id, role: m.role, pid: m.child?.pid ?? null, config: m.configFile, log: join(this.dir, 'logs', `${m.id}.log`), endpoints: this.endpoints(m) })),
    };
    // Written aside and renamed over: a reader (a person's script, the CLI) never sees half a file.
    const file = join(this.dir, 'cluster.json');
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, file);
  }

  /** A person's first steps: send to a demo user through the gateway, read through the proxy. */
  private tryIt(): string[] {
    const gw = this.endpoints(this.members.find((m) => m.role === 'gateway')!).smtp;
    const px = this.endpoints(this.members.find((m) => m.role === 'proxy')!);
    const u = this.demo[0];
    if (!gw || !px.imap || !u) return [];
    const [gwHost, gwPort] = gw.split(':') as [string, string];
    const [pxHost, pxPort] = px.imap.split(':') as [string, string];
    return [
      `printf 'Subject: hello\\r\\n\\r\\nhi\\r\\n' | curl -s smtp://${gwHost}:${gwPort} --mail-from someone@example.org --mail-rcpt ${u.address} -T -    # the gateway is the MX: no login`,
      `curl -s --url 'imap://${pxHost}:${pxPort}/INBOX;UID=1' --user '${u.address}:${u.password}'    # or point any IMAP client at ${px.imap}`,
    ];
  }

  private describe(): string {
    const lines = [`mailfleet: local cluster running in ${this.dir} (cluster.json there has all of this)`, `  admin API   ${this.hubUrl}  (token in ${join(this.dir, 'secrets', 'admin-token')})`, `  dashboard   ${this.hubUrl}/dashboard/  (log in with that token)`];
    const standbys = this.hubUrls.filter((u) => u !== this.hubUrl);
    if (standbys.length) lines.push(`  standby hub ${standbys.join('  ')}  (takes over if the active hub dies; \`mailfleet status\` shows which is active)`);
    const proxy = this.members.find((x) => x.role === 'proxy');
    if (proxy) {
      const e = this.endpoints(proxy);
      lines.push(`  proxy       IMAP ${e.imap}  IMAPS ${e.imaps}  POP3 ${e.pop3}  submission ${e.submission}  SMTPS ${e.smtps}  (pid ${proxy.child?.pid}): clients connect here, it picks the node`);
    }
    const gateway = this.members.find((x) => x.role === 'gateway');
    if (gateway) lines.push(`  gateway     SMTP ${this.endpoints(gateway).smtp} (MX for ${DEMO_DOMAIN}, pid ${gateway.child?.pid})`);
    for (const m of this.members.filter((x) => x.role === 'node')) {
      const e = this.endpoints(m);
      lines.push(`  ${m.id.padEnd(12)} IMAP ${e.imap}  IMAPS ${e.imaps}  POP3 ${e.pop3}  submission ${e.submission}  (pid ${m.child?.pid})`);
    }
    lines.push('  demo users (log in through the proxy):');
    for (const u of this.demo) lines.push(`    ${u.address}  ${u.password}  (on ${this.owners.get(u.address) ?? '?'})`);
    lines.push('  try it:', ...this.tryIt().map((l) => `    ${l}`));
    lines.push('  Ctrl-C stops the cluster; starting again on the same folder keeps mail and users.', '');
    return lines.join('\n');
  }

  /** SIGTERM to every member (proxy and gateway, then the nodes, then the hub), SIGKILL after a grace period. */
  async stop(): Promise<void> {
    this.stopped = true;
    const tiers: RenderedMember['role'][][] = [['proxy', 'gateway'], ['node'], ['hub']];
    for (const tier of tiers) {
      const group = this.members.filter((m) => tier.includes(m.role));
      await Promise.all(
        group.map(async (m) => {
          m.stopping = true;
          const c = m.child;
          if (!c || c.exitCode !== null || c.signalCode !== null) return;
          const gone = new Promise<void>((r) => c.once('exit', () => r()));
          c.kill('SIGTERM');
          const t = setTimeout(() => c.kill('SIGKILL'), STOP_GRACE_MS);
          await gone;
          clearTimeout(t);
        }),
      );
    }
    for (const l of this.logs.values()) l.end();
  }
}
