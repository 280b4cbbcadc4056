/**
 * The login-aware proxy (`mailfleet run --role proxy`) as it runs: a real
 * hub process, two real node processes that each own different users, and
 * the proxy process in front, all on loopback. Clients are imapflow,
 * node-imap, node-pop3 and a raw line client for exact bytes.
 *
 * The nodes do not talk to the hub themselves in this build; the test holds
 * their memberships (register, heartbeat, stream, acks) with their real
 * ports, so the hub's placement names them exactly as it would. Who owns
 * whom is fixed with placement overrides (admin "move user"): alice on
 * node-a, bob on node-b. Each node's users file knows alice, so where a
 * login of alice landed is told by the folders that node's store has.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Imap from 'imap';
import { ImapFlow } from 'imapflow';
import Pop3Command from 'node-pop3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, spawnMember, waitFor, writeTokens, type SpawnedProcess } from '../helpers/hub';
import { message } from '../helpers/imap';
import { LineClient } from '../helpers/line-client';
import { NodeMembership } from '../helpers/node-membership';
import { writeUsersFile, type TestUser } from '../helpers/users';

const ALICE: TestUser = { address: 'alice@example.test', password: 'alice secret' };
const BOB: TestUser = { address: 'bob@example.test', password: 'bob-pw' };
const CAROL: TestUser = { address: 'carol@example.test', password: 'carol-pw' };
/** Known to no node: only ever fails. */
const DAVE = 'dave@example.test';

const lo = { host: '127.0.0.1', port: 0 };
/** Starting a member (tsx compiles on load) takes long on a busy shared machine: a bound, not a timing. */
const START_MS = 240_000;
let dir: string;
let tokens: { adminTokenFile: string; clusterTokenFile: string };
let hub: SpawnedProcess | undefined;
let hubUrl: string;
const nodes: Record<'a' | 'b', { proc: SpawnedProcess; imapPort: number; pop3Port: number; membership?: NodeMembership }> = {} as never;
let proxy: SpawnedProcess | undefined;
let proxyPorts: { imapPort: number; pop3Port: number; imapsPort: number; healthPort: number };

async function startHub(httpPort = 0): Promise<void> {
  hub = await spawnMember(join(dir, 'hub.json'), {
    role: 'hub',
    memberId: 'hub-0',
    cluster: 'test',
    management: lo,
    storage: { path: join(dir, 'shared') },
    listen: { http: { host: '127.0.0.1', port: httpPort } },
    // Generous lease timing: the machine is shared, and a hub that misses its own lease renewal goes standby.
    heartbeatSeconds: 1,
    deadAfterSeconds: 10,
    leaseMarginSeconds: 2,
    ...tokens,
  }, START_MS);
  hubUrl = hub.ready.url as string;
  await waitFor(async () => (await api(hubUrl, 'GET', '/v1/hub')).status === 200, 'hub active');
}

async function startNode(name: 'a' | 'b', users: TestUser[]): Promise<void> {
  const ndir = join(dir, `node-${name}`);
  await writeUsersFile(join(dir, `users-${name}.yaml`), users);
  const proc = await spawnMember(join(dir, `node-${name}.json`), {
    role: 'node',
    memberId: `node-${name}`,
    cluster: 'test',
    management: lo,
    storage: { path: ndir },
    listen: { imap: lo, pop3: lo, lmtp: lo },
    directory: { file: join(dir, `users-${name}.yaml`) },
  }, START_MS);
  nodes[name] = { proc, imapPort: proc.ready.imapPort as number, pop3Port: proc.ready.pop3Port as number };
}

async function startProxy(id: string, extra: Record<string, unknown> = {}): Promise<SpawnedProcess> {
  return spawnMember(join(dir, `${id}.json`), {
    role: 'proxy',
    memberId: id,
    cluster: 'test',
    management: lo,
    storage: { path: join(dir, id) },
    hubUrl,
    clusterTokenFile: tokens.clusterTokenFile,
    listen: { imap: lo, imaps: lo, pop3: lo, submission: lo },
    tls: { certFile: join(dir, 'tls', 'cert.pem'), keyFile: join(dir, 'tls', 'key.pem'), generateIfMissing: true },
    ...extra,
  }, START_MS);
}

function portsOf(p: SpawnedProcess): typeof proxyPorts {
  return { imapPort: p.ready.imapPort as number, pop3Port: p.ready.pop3Port as number, imapsPort: p.ready.imapsPort as number, healthPort: p.ready.healthPort as number };
}

/** A metric of a member's /metrics, summed over its series (labels matched by `labels`). */
async function metric(healthPort: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  let sum = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    if (labels && !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    seen = true;
  }
  return seen ? sum : Number.NaN;
}

/** Moves a user with the admin API and waits until the proxy routes by that version. */
async function move(address: string, node: string | null): Promise<void> {
  const res = await api<{ version: number }>(hubUrl, 'POST', '/v1/placement/move', { body: { address, node } }).catch((err: unknown) => {
    throw new Error(`hub unreachable (exit ${String(hub?.child.exitCode)} ${String(hub?.child.signalCode)}): ${hub?.stderr() ?? ''}`, { cause: err });
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  await waitFor(async () => (await metric(proxyPorts.healthPort, 'mailfleet_proxy_placement_version')) >= res.body.version, `proxy at placement ${res.body.version}`);
}

function flow(port: number, user: TestUser, pass = user.password): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: user.address, pass }, logger: false, tls: { rejectUnauthorized: false } });
}

/** The folder names the user's store on that node has (asked directly, not through the proxy). */
async function foldersOn(name: 'a' | 'b', user: TestUser): Promise<string[]> {
  const c = flow(nodes[name].imapPort, user);
  await c.connect();
  const list = await c.list();
  await c.logout();
  return list.map((f) => f.path).sort();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-proxy-'));
  tokens = await writeTokens(dir);
  await startHub();
  await Promise.all([startNode('a', [ALICE, CAROL]), startNode('b', [BOB, ALICE])]);
  for (const n of ['a', 'b'] as const) {
    nodes[n].membership = await NodeMembership.join(hubUrl, `node-${n}`, { imap: nodes[n].imapPort, pop3: nodes[n].pop3Port, management: nodes[n].proc.ready.healthPort as number });
  }
  await waitFor(async () => {
    const p = await api<{ nodes: { id: string; state: string }[] }>(hubUrl, 'GET', '/v1/placement');
    return p.body.nodes.filter((n) => n.state === 'active').length === 2;
  }, 'both nodes active in the placement');
  proxy = await startProxy('proxy-0');
  proxyPorts = portsOf(proxy);
  await move(ALICE.address, 'node-a');
  await move(BOB.address, 'node-b');
}, 900_000);

afterAll(async () => {
  for (const n of Object.values(nodes)) n.membership?.leave();
  await Promise.all([proxy?.stop(), hub?.stop(), ...Object.values(nodes).map((n) => n.proc.stop())]);
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('routing a login to the owner node (RFC 3501 §6.2, RFC 1939 §7)', () => {
  it('imapflow (STARTTLS, LOGIN) reaches alice’s mailbox on node-a, bob’s on node-b', async () => {
    const a = flow(proxyPorts.imapPort, ALICE);
    await a.connect();
    expect(a.secureConnection).toBe(true); // STARTTLS at the proxy
    await a.mailboxCreate('made-via-proxy-a');
    await a.logout();
    expect(await foldersOn('a', ALICE)).toContain('made-via-proxy-a');
    expect(await foldersOn('b', ALICE)).not.toContain('made-via-proxy-a');

    const b = flow(proxyPorts.imapPort, BOB);
    await b.connect();
    await b.append('INBOX', message('for bob via the proxy'));
    const status = await b.status('INBOX', { messages: true });
    expect(status && status.messages).toBe(1);
    await b.logout();
  });

  it('node-imap over implicit TLS logs bob in on node-b and reads what is there', async () => {
    const imap = new Imap({ user: BOB.address, password: BOB.password, host: '127.0.0.1', port: proxyPorts.imapsPort, tls: true, tlsOptions: { rejectUnauthorized: false }, authTimeout: 10_000 });
    const total = await new Promise<number>((resolve, reject) => {
      imap.once('error', reject);
      imap.once('ready', () => imap.openBox('INBOX', true, (err, box) => (err ? reject(err) : resolve(box.messages.total))));
      imap.connect();
    });
    imap.end();
    expect(total).toBe(1);
  });

  it('node-pop3 (USER/PASS) reads bob’s message on node-b through the proxy', async () => {
    const pop = new Pop3Command({ host: '127.0.0.1', port: proxyPorts.pop3Port, user: BOB.address, password: BOB.password, timeout: 10_000 });
    const [count] = await pop.STAT().then((s) => s.split(' ').map(Number));
    const body = await pop.RETR(1);
    await pop.QUIT();
    expect(count).toBe(1);
    expect(body).toContain('Subject: for bob via the proxy');
  });

  it('the pre-login CAPABILITY (greeting and command) is the node’s own list, with the proxy’s TLS offer', async () => {
    const viaProxy = await LineClient.connect(proxyPorts.imapPort);
    const direct = await LineClient.connect(nodes.a.imapPort);
    try {
      const greeting = await viaProxy.readLine();
      const [proxyCaps, proxyDone] = await viaProxy.command('c', 'CAPABILITY');
      await direct.readLine();
      const [nodeCaps] = await direct.command('c', 'CAPABILITY');
      expect(proxyDone).toBe('c OK CAPABILITY completed');
      expect(greeting).toBe(`* OK [${proxyCaps.slice(2)}] mailfleet proxy ready`);
      // The node here has no TLS material, the proxy has: STARTTLS is the one word that may differ.
      const words = (line: string): string[] => line.replace(/^\* CAPABILITY /, '').split(' ').filter((w) => w !== 'STARTTLS');
      expect(words(proxyCaps)).toEqual(words(nodeCaps));
      expect(proxyCaps.split(' ')).toEqual(expect.arrayContaining(['IMAP4rev1', 'IMAP4rev2', 'STARTTLS', 'LITERAL-', 'ID']));
    } finally {
      viaProxy.close();
      direct.close();
    }
  });

  it('AUTHENTICATE PLAIN with SASL-IR and with a continuation, and POP3 AUTH PLAIN, are replayed on the node', async () => {
    const plain = Buffer.from(`\0${ALICE.address}\0${ALICE.password}`).toString('base64');
    const c1 = await LineClient.connect(proxyPorts.imapPort);
    expect(await c1.readLine()).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS AUTH=PLAIN SASL-IR/);
    const r1 = await c1.command('a1', `AUTHENTICATE PLAIN ${plain}`);
    expect(r1.at(-1)).toMatch(/^a1 OK \[CAPABILITY IMAP4rev1 .*\] Logged in$/);
    // Now spliced: the node answers.
    expect((await c1.command('a2', 'LIST "" "*"')).join('\n')).toContain('made-via-proxy-a');
    c1.close();

    const c2 = await LineClient.connect(proxyPorts.imapPort);
    await c2.readLine();
    c2.send('b1 AUTHENTICATE PLAIN');
    expect(await c2.readLine()).toBe('+ ');
    c2.send(plain);
    expect((await c2.readUntil((l) => l.startsWith('b1 '))).at(-1)).toMatch(/^b1 OK /);
    expect((await c2.command('b2', 'SELECT INBOX')).at(-1)).toMatch(/^b2 OK \[READ-WRITE\]/);
    c2.close();

    const p = await LineClient.connect(proxyPorts.pop3Port);
    expect(await p.readLine()).toMatch(/^\+OK /);
    expect(await p.pop('CAPA', true)).toEqual(expect.arrayContaining(['STLS', 'USER', 'SASL PLAIN']));
    expect((await p.pop(`AUTH PLAIN ${Buffer.from(`\0${BOB.address}\0${BOB.password}`).toString('base64')}`))[0]).toMatch(/^\+OK/);
    expect((await p.pop('STAT'))[0]).toMatch(/^\+OK 1 \d+$/);
    p.close();
  });

  it('a wrong password gets the node’s own NO / -ERR, and the user can try again on the same connection', async () => {
    const direct = await LineClient.connect(nodes.a.imapPort);
    await direct.readLine();
    const nodeSays = (await direct.command('d1', `LOGIN "${ALICE.address}" "wrong"`)).at(-1)!.replace(/^d1 /, '');
    direct.close();
    expect(nodeSays).toMatch(/^NO \[AUTHENTICATIONFAILED\]/);

    const c = await LineClient.connect(proxyPorts.imapPort);
    await c.readLine();
    expect((await c.command('t1', `LOGIN "${ALICE.address}" "wrong"`, 15_000)).at(-1)).toBe(`t1 ${nodeSays}`);
    expect((await c.command('t2', `LOGIN "${ALICE.address}" "${ALICE.password}"`, 15_000)).at(-1)).toMatch(/^t2 OK /);
    c.close();

    const p = await LineClient.connect(proxyPorts.pop3Port);
    await p.readLine();
    expect((await p.pop(`USER ${BOB.address}`))[0]).toMatch(/^\+OK/);
    expect((await p.pop('PASS nope'))[0]).toMatch(/^-ERR \[AUTH\]/);
    p.close();
    expect(await metric(proxyPorts.healthPort, 'mailfleet_proxy_logins_total', 'outcome="failed"')).toBeGreaterThanOrEqual(2);
  });

  it('an address nobody owns on the ring still gets an answer from its ring owner, and an unknown user is the node’s NO', async () => {
    const c = await LineClient.connect(proxyPorts.imapPort);
    await c.readLine();
    expect((await c.command('u1', 'LOGIN "nobody@example.test" "x"', 15_000)).at(-1)).toMatch(/^u1 NO \[AUTHENTICATIONFAILED\]/);
    c.close();
  });

  it('failed logins are limited at the proxy: a connection is closed after limits.loginFailuresPerConnection, then the (user, address) pair is refused without asking the node', async () => {
    await move(DAVE, 'node-b');
    const before = await metric(proxyPorts.healthPort, 'mailfleet_proxy_logins_total', 'outcome="throttled"');
    const c = await LineClient.connect(proxyPorts.imapPort);
    await c.readLine();
    for (let i = 0; i < 3; i++) expect((await c.command(`f${i}`, `LOGIN "${DAVE}" "wrong${i}"`, 30_000)).at(-1)).toMatch(/NO \[AUTHENTICATIONFAILED\]/);
    expect(await c.readLine()).toBe('* BYE Too many failed logins on this connection');
    await c.waitClosed();
    // The pair has used its free failures: the next tries wait 1 s, 2 s... and one made before that is refused by the proxy.
    let refused = '';
    for (let i = 0; i < 6 && !refused; i++) {
      const again = await LineClient.connect(proxyPorts.imapPort);
      await again.readLine();
      const answer = (await again.command('g', `LOGIN "${DAVE}" "again${i}"`, 30_000)).at(-1)!;
      if (answer.includes('Too many failed logins')) refused = answer;
      again.close();
    }
    expect(refused).toBe('g NO [UNAVAILABLE] Too many failed logins, try later');
    expect(await metric(proxyPorts.healthPort, 'mailfleet_proxy_logins_total', 'outcome="throttled"')).toBe((Number.isNaN(before) ? 0 : before) + 1);
  }, 60_000);
});

describe('placement changes (failover, move): new logins go to the new owner', () => {
  it('after alice moves to node-b, a new login lands on node-b and her session on node-a is ended', async () => {
    const old = flow(proxyPorts.imapPort, ALICE);
    await old.connect();
    const closed = new Promise<void>((r) => old.once('close', () => r()));
    await move(ALICE.address, 'node-b');
    await closed; // the proxy ended the session to the node that lost the mailbox
    const c = flow(proxyPorts.imapPort, ALICE);
    await c.connect();
    await c.mailboxCreate('made-via-proxy-b');
    const seen = (await c.list()).map((f) => f.path);
    await c.logout();
    expect(seen).not.toContain('made-via-proxy-a');
    expect(await foldersOn('b', ALICE)).toContain('made-via-proxy-b');
    expect(await foldersOn('a', ALICE)).not.toContain('made-via-proxy-b');
  });

  it('when node-b is declared dead its users go to node-a (the ring of live nodes)', async () => {
    await move(ALICE.address, null);
    // carol is only known on node-a: whichever node the ring gives her now, after node-b's death it is node-a.
    nodes.b.membership!.leave();
    await waitFor(async () => {
      const p = await api<{ nodes: { id: string; state: string }[] }>(hubUrl, 'GET', '/v1/placement');
      return p.body.nodes.find((n) => n.id === 'node-b')?.state === 'dead';
    }, 'node-b declared dead', 30_000);
    const v = (await api<{ version: number }>(hubUrl, 'GET', '/v1/placement')).body.version;
    await waitFor(async () => (await metric(proxyPorts.healthPort, 'mailfleet_proxy_placement_version')) >= v, 'proxy follows');
    const c = flow(proxyPorts.imapPort, CAROL);
    await c.connect();
    await c.logout();
    const b = await LineClient.connect(proxyPorts.imapPort);
    await b.readLine();
    // bob's override names a dead node: the ring (node-a) owns him now, and node-a does not know him.
    expect((await b.command('x1', `LOGIN "${BOB.address}" "${BOB.password}"`, 15_000)).at(-1)).toMatch(/^x1 NO \[AUTHENTICATIONFAILED\]/);
    b.close();
    nodes.b.membership = await NodeMembership.join(hubUrl, 'node-b', { imap: nodes.b.imapPort, pop3: nodes.b.pop3Port, management: nodes.b.proc.ready.healthPort as number });
    await waitFor(async () => {
      const p = await api<{ version: number; nodes: { id: string; state: string }[] }>(hubUrl, 'GET', '/v1/placement');
      return p.body.nodes.find((n) => n.id === 'node-b')?.state === 'active' && (await metric(proxyPorts.healthPort, 'mailfleet_proxy_placement_version')) >= p.body.version;
    }, 'node-b back');
  }, 60_000);
});

describe('the hub is not on the data path', () => {
  it('with the hub stopped the proxy routes from its cache, also after a restart of the proxy', async () => {
    await move(ALICE.address, 'node-a');
    await hub!.stop();
    const c = flow(proxyPorts.imapPort, ALICE);
    await c.connect();
    expect((await c.list()).map((f) => f.path)).toContain('made-via-proxy-a');
    await c.logout();

    await proxy!.stop();
    proxy = await startProxy('proxy-0');
    proxyPorts = portsOf(proxy);
    const r = flow(proxyPorts.imapPort, ALICE);
    await r.connect();
    expect((await r.list()).map((f) => f.path)).toContain('made-via-proxy-a');
    await r.logout();
    const pop = new Pop3Command({ host: '127.0.0.1', port: proxyPorts.pop3Port, user: BOB.address, password: BOB.password, timeout: 10_000 });
    expect(await pop.STAT()).toMatch(/^1 /);
    await pop.QUIT();
  }, 600_000);
});

describe('hostile clients before login are bounded', () => {
  let hostile: SpawnedProcess;
  let port: number;
  let popPort: number;
  beforeAll(async () => {
    hostile = await startProxy('proxy-hostile', { limits: { maxConnections: 4, loginTimeoutSeconds: 3 } });
    port = hostile.ready.imapPort as number;
    popPort = hostile.ready.pop3Port as number;
  }, 600_000);
  afterAll(() => hostile.stop());

  it('a client that never logs in is told BYE at the login deadline, whatever it trickles', async () => {
    const c = await LineClient.connect(port);
    await c.readLine();
    c.send('a NOOP');
    expect(await c.readLine()).toBe('a OK NOOP completed');
    c.write('b CAPA'); // no line end, ever
    expect(await c.readLine(10_000)).toMatch(/^\* BYE Login timeout/);
    await c.waitClosed(10_000);
    const p = await LineClient.connect(popPort);
    await p.readLine();
    expect(await p.readLine(10_000)).toMatch(/^-ERR Login timeout/);
    await p.waitClosed(10_000);
  });

  it('over-long lines and literals are refused without being buffered; bad commands end in BYE', async () => {
    const c = await LineClient.connect(port);
    await c.readLine();
    c.write(`x LOGIN ${'a'.repeat(20_000)}\r\n`);
    expect(await c.readLine()).toMatch(/^x BAD Command line too long/);
    c.send('y LOGIN {100000000}');
    expect(await c.readLine()).toMatch(/^y NO \[TOOBIG\]/);
    for (let i = 0; i < 8; i++) c.send(`z${i} SELECT INBOX`);
    const rest = await c.readUntil((l) => l.startsWith('* BYE'));
    expect(rest.at(-1)).toBe('* BYE Too many invalid commands');
    await c.waitClosed();

    const big = await LineClient.connect(port);
    await big.readLine();
    big.send('n LOGIN {100000+}');
    expect(await big.readLine()).toMatch(/^\* BYE Non-synchronizing literal too big/);
    await big.waitClosed();

    const p = await LineClient.connect(popPort);
    await p.readLine();
    p.write(`USER ${'b'.repeat(20_000)}\r\n`);
    expect(await p.readLine()).toBe('-ERR Line too long');
    p.close();
  });

  it('connections over limits.maxConnections are refused with BYE [UNAVAILABLE]', async () => {
    await waitFor(async () => (await metric(hostile.ready.healthPort as number, 'mailfleet_proxy_sessions', 'state="open"')) === 0, 'earlier sessions gone');
    const held = await Promise.all([0, 1, 2, 3].map(() => LineClient.connect(port)));
    for (const h of held) expect(await h.readLine()).toMatch(/^\* OK/);
    const over = await LineClient.connect(port);
    expect(await over.readLine()).toBe('* BYE [UNAVAILABLE] Too many connections, try again later');
    for (const h of held) h.close();
    await over.waitClosed();
  });

});
