/**
 * The login-aware proxy (`mailfleet run --role proxy`) as it runs: a real
 * hub process, two real node processes registered with it (heartbeats,
 * stream, placement acks of their own) and the proxy process in front, all
 * on loopback, one shared storage folder as in production. Clients are
 * imapflow, node-imap, node-pop3 and a raw line client for exact bytes.
 *
 * The directory is the hub's (alice, bob, carol). Who owns whom is fixed
 * with placement overrides (admin "move user"): alice on node-a, bob on
 * node-b. The storage is shared, so where a login through the proxy landed
 * is told by the nodes' own login counters (`mailfleet_logins_total`), and a
 * node that does not own a mailbox answers a direct login NO [UNAVAILABLE].
 */
import { join } from 'node:path';
import Imap from 'imap';
import { ImapFlow } from 'imapflow';
import Pop3Command from 'node-pop3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../mail-runtime/auth';
import { loginResult, TestCluster, type RunningMember } from '../helpers/cluster';
import { api, waitFor } from '../helpers/hub';
import { message } from '../helpers/imap';
import { LineClient } from '../helpers/line-client';
import { FAST_SCRYPT, type TestUser } from '../helpers/users';

const ALICE: TestUser = { address: 'alice@example.test', password: 'alice secret' };
const BOB: TestUser = { address: 'bob@example.test', password: 'bob-pw' };
const CAROL: TestUser = { address: 'carol@example.test', password: 'carol-pw' };
/** Known to nobody: only ever fails. */
const DAVE = 'dave@example.test';

const lo = { host: '127.0.0.1', port: 0 };
let cluster: TestCluster;
let hubUrl: string;
let proxy: RunningMember;
let proxyPorts: { imapPort: number; pop3Port: number; imapsPort: number; healthPort: number };

const node = (name: 'a' | 'b'): RunningMember => cluster.nodes.get(`node-${name}`)!;

/** A proxy of this cluster with IMAPS too (self-signed material made on first start). */
function startProxy(id: string, extra: Record<string, unknown> = {}): Promise<RunningMember> {
  return cluster.startProxy(id, {
    listen: { imap: lo, imaps: lo, pop3: lo, submission: lo },
    tls: { certFile: join(cluster.dir, 'tls', 'cert.pem'), keyFile: join(cluster.dir, 'tls', 'key.pem'), generateIfMissing: true },
    ...extra,
  });
}

function portsOf(p: RunningMember): typeof proxyPorts {
  return { imapPort: p.port('imap'), pop3Port: p.port('pop3'), imapsPort: p.port('imaps'), healthPort: p.port('health') };
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

/** Successful logins a node has counted itself (0 before its first). */
async function okLogins(name: 'a' | 'b'): Promise<number> {
  const n = await metric(node(name).port('health'), 'mailfleet_logins_total', 'result="ok"');
  return Number.isNaN(n) ? 0 : n;
}

/**
 * Runs `f` (logins through the proxy only) and checks they landed on node
 * `name`: its login counter went up (waited on, bounded: the count may
 * follow the OK), the other node's did not move.
 */
async function landsOn<T>(name: 'a' | 'b', f: () => Promise<T>): Promise<T> {
  const other = name === 'a' ? 'b' : 'a';
  // A node killed by the test counts nothing (and has no /metrics to ask).
  const otherUp = node(other).child.exitCode === null && node(other).child.signalCode === null;
  const mine = await okLogins(name);
  const theirs = otherUp ? await okLogins(other) : 0;
  const result = await f();
  await waitFor(async () => (await okLogins(name)) > mine, `a login counted on node-${name}`);
  if (otherUp) expect(await okLogins(other), `logins on node-${other}`).toBe(theirs);
  return result;
}

/** Moves a user with the admin API and waits until the proxy routes by that version. */
async function move(address: string, to: string | null): Promise<void> {
  const hub = cluster.hubs.get('hub-0');
  const res = await api<{ version: number }>(hubUrl, 'POST', '/v1/placement/move', { body: { address, node: to } }).catch((err: unknown) => {
    throw new Error(`hub unreachable (exit ${String(hub?.child.exitCode)} ${String(hub?.child.signalCode)}): ${hub?.stderr() ?? ''}`, { cause: err });
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  // The proxy and every running node at that version: a login routed right after is served, not refused by a node still at the last one.
  const running = [...cluster.nodes.values()].filter((n) => n.child.exitCode === null && n.child.signalCode === null);
  await waitFor(async () => {
    const versions = await Promise.all([metric(proxyPorts.healthPort, 'mailfleet_proxy_placement_version'), ...running.map((n) => metric(n.port('health'), 'mailfleet_cluster_placement_version'))]);
    return versions.every((v) => v >= res.body.version);
  }, `proxy and nodes at placement ${res.body.version}`);
}

function flow(port: number, user: TestUser, pass = user.password): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: user.address, pass }, logger: false, tls: { rejectUnauthorized: false } });
}

/** The folder names of the user's mailbox as its owner node serves it (asked directly, not through the proxy). */
async function foldersOn(name: 'a' | 'b', user: TestUser): Promise<string[]> {
  const c = flow(node(name).port('imap'), user);
  await c.connect();
  const list = await c.list();
  await c.logout();
  return list.map((f) => f.path).sort();
}

/** Waits (bounded) until the proxy routes by a placement in which node-`name` has `state`. */
async function nodeState(name: 'a' | 'b', state: 'dead'): Promise<void> {
  await waitFor(async () => {
    const p = await api<{ version: number; nodes: { id: string; state: string }[] }>(hubUrl, 'GET', '/v1/placement');
    return p.body.nodes.find((n) => n.id === `node-${name}`)?.state === state && (await metric(proxyPorts.healthPort, 'mailfleet_proxy_placement_version')) >= p.body.version;
  }, `node-${name} ${state}, the proxy following`, 30_000);
}

beforeAll(async () => {
  cluster = await TestCluster.create('mf-proxy-');
  await cluster.planHubs(1);
  await cluster.startHub(0);
  hubUrl = await cluster.waitActive();
  await cluster.admin('POST', '/v1/domains', { name: 'example.test' });
  for (const u of [ALICE, BOB, CAROL]) await cluster.admin('POST', '/v1/users', { address: u.address, passwordHash: await hashPassword(u.password, FAST_SCRYPT) });
  await Promise.all([cluster.startNode('node-a'), cluster.startNode('node-b')]);
  await cluster.waitPlacement((p) => p.ring.length === 2, 'both nodes on the ring');
  proxy = await startProxy('proxy-0');
  proxyPorts = portsOf(proxy);
  await move(ALICE.address, 'node-a');
  await move(BOB.address, 'node-b');
}, 300_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe('routing a login to the owner node (RFC 3501 §6.2, RFC 1939 §7)', () => {
  it('imapflow (STARTTLS, LOGIN) reaches alice’s mailbox on node-a, bob’s on node-b', async () => {
    await landsOn('a', async () => {
      const a = flow(proxyPorts.imapPort, ALICE);
      await a.connect();
      expect(a.secureConnection).toBe(true); // STARTTLS at the proxy
      await a.mailboxCreate('made-via-proxy-a');
      await a.logout();
    });
    expect(await foldersOn('a', ALICE)).toContain('made-via-proxy-a');
    // node-b does not own alice: it refuses her rather than open her mailbox beside node-a.
    expect(await loginResult(node('b').port('imap'), ALICE)).toMatch(/^L NO \[UNAVAILABLE\]/);

    await landsOn('b', async () => {
      const b = flow(proxyPorts.imapPort, BOB);
      await b.connect();
      await b.append('INBOX', message('for bob via the proxy'));
      const status = await b.status('INBOX', { messages: true });
      expect(status && status.messages).toBe(1);
      await b.logout();
    });
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
    const direct = await LineClient.connect(node('a').port('imap'));
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
    const direct = await LineClient.connect(node('a').port('imap'));
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
    const seen = await landsOn('b', async () => {
      const c = flow(proxyPorts.imapPort, ALICE);
      await c.connect();
      await c.mailboxCreate('made-via-proxy-b');
      const list = (await c.list()).map((f) => f.path);
      await c.logout();
      return list;
    });
    // The same mailbox (shared storage), now served by node-b; node-a has let go of it.
    expect(seen).toEqual(expect.arrayContaining(['made-via-proxy-a', 'made-via-proxy-b']));
    expect(await foldersOn('b', ALICE)).toContain('made-via-proxy-b');
    expect(await loginResult(node('a').port('imap'), ALICE)).toMatch(/^L NO \[UNAVAILABLE\]/);
  });

  it('when node-b dies (kill -9) its users go to node-a (the ring of live nodes), with their mail', async () => {
    await move(ALICE.address, null);
    const b = node('b');
    b.child.kill('SIGKILL');
    await b.exited;
    // Its stream dropped and its ports refuse: dead at once (DESIGN.md, failure detection).
    await nodeState('b', 'dead');
    // Whichever node the ring gave carol before, it is node-a now.
    await landsOn('a', async () => {
      const c = flow(proxyPorts.imapPort, CAROL);
      await c.connect();
      await c.logout();
    });
    // bob's override names a dead node: the ring (node-a) owns him now, and his message moved with the mailbox.
    const messages = await landsOn('a', async () => {
      const c = flow(proxyPorts.imapPort, BOB);
      await c.connect();
      const status = await c.status('INBOX', { messages: true });
      await c.logout();
      return status && status.messages;
    });
    expect(messages).toBe(1);
    // node-b stays down: what follows needs only node-a (bob is served there now).
  }, 120_000);
});

describe('the hub is not on the data path', () => {
  it('with the hub stopped the proxy routes from its cache, also after a restart of the proxy', async () => {
    await move(ALICE.address, 'node-a');
    await cluster.hubs.get('hub-0')!.stop();
    const c = flow(proxyPorts.imapPort, ALICE);
    await c.connect();
    expect((await c.list()).map((f) => f.path)).toContain('made-via-proxy-a');
    await c.logout();

    await proxy.stop();
    proxy = await startProxy('proxy-0');
    proxyPorts = portsOf(proxy);
    const r = flow(proxyPorts.imapPort, ALICE);
    await r.connect();
    expect((await r.list()).map((f) => f.path)).toContain('made-via-proxy-a');
    await r.logout();
    const pop = new Pop3Command({ host: '127.0.0.1', port: proxyPorts.pop3Port, user: BOB.address, password: BOB.password, timeout: 10_000 });
    expect(await pop.STAT()).toMatch(/^1 /);
    await pop.QUIT();
  }, 300_000);
});

describe('hostile clients before login are bounded', () => {
  let hostile: RunningMember;
  let port: number;
  let popPort: number;
  beforeAll(async () => {
    hostile = await startProxy('proxy-hostile', { limits: { maxConnections: 4, loginTimeoutSeconds: 3 } });
    port = hostile.port('imap');
    popPort = hostile.port('pop3');
  }, 120_000);
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
    await waitFor(async () => (await metric(hostile.port('health'), 'mailfleet_proxy_sessions', 'state="open"')) === 0, 'earlier sessions gone');
    const held = await Promise.all([0, 1, 2, 3].map(() => LineClient.connect(port)));
    for (const h of held) expect(await h.readLine()).toMatch(/^\* OK/);
    const over = await LineClient.connect(port);
    expect(await over.readLine()).toBe('* BYE [UNAVAILABLE] Too many connections, try again later');
    for (const h of held) h.close();
    await over.waitClosed();
  });

});
