import { connect } from 'node:net';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeProxyV2 } from '../../mail-runtime/net';
import { waitFor } from '../helpers/hub';
import { messageIds, TestCluster, type RunningMember, type TestUserSpec } from '../helpers/cluster';
import { quote } from '../helpers/imap';

/**
 * Submission through the proxy, and the client's address reaching the node through it (PROXY v2,
 * config `proxy.sendProxyProtocol` on the proxy, `proxyProtocolFrom` on the
 * node): real hub, node and proxy processes; clients connect to the proxy
 * from different loopback addresses (127.0.0.2, 127.0.0.3). The proxy's own
 * login limits are set out of reach, the node's per-address limit low, so
 * what refuses the flood is the node counting the flooding address — and
 * another address still logs in. Without the header the node would count
 * every client as the proxy's 127.0.0.1 and refuse the second address too.
 */
const START_MS = 240_000;
/** The node refuses an address after this many failed logins from it (limits.loginFailuresPerAddress). */
const NODE_FAILURES_PER_ADDRESS = 3;
let cluster: TestCluster | undefined;

afterAll(async () => {
  await cluster?.stop();
});

/** One IMAP LOGIN through `port` from the local address `from` (after `preamble`, if given): the tagged reply. */
function loginFrom(port: number, from: string, u: TestUserSpec, password: string, preamble?: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, localAddress: from }, () => {
      if (preamble) s.write(preamble);
    });
    let buf = '';
    let sent = false;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no LOGIN answer from ${from}: ${buf}`));
    }, 60_000);
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      if (!sent && buf.includes('\r\n')) {
        sent = true;
        s.write(`L LOGIN ${quote(u.address)} ${quote(password)}\r\n`);
      }
      const tagged = buf.split('\r\n').find((l) => l.startsWith('L '));
      if (tagged) {
        clearTimeout(timer);
        s.destroy();
        resolve(tagged);
      }
    });
  });
}

let alice: TestUserSpec;
let proxy: RunningMember;
/** The proxy's IMAP port. */
let port: number;

beforeAll(async () => {
  const c = (cluster = await TestCluster.create('mf-proxy-addr-'));
  await c.planHubs(1);
  await c.startHub(0);
  const lo = { host: '127.0.0.1', port: 0 };
  await c.startNode('node-a', {
    listen: { imap: lo, pop3: lo, lmtp: lo, submission: lo },
    proxyProtocolFrom: ['127.0.0.1/32'],
    // Only the per-address limit acts: the per-user ones are out of reach, and no slow-down.
    limits: { loginFailuresPerAddress: NODE_FAILURES_PER_ADDRESS, loginFailuresPerUserAddress: 1000, loginFailuresPerUser: 1000, loginUserDelayMaxMs: 0 },
  });
  alice = (await c.addUsers('example.test', 1))[0]!;
  await c.waitPlacement((p) => p.ownerOf(alice.address) === 'node-a', 'alice placed on node-a', START_MS);
  proxy = await c.startProxy('proxy-0', {
    proxy: { sendProxyProtocol: true },
    // The proxy's own limiter out of the way: it must be the node that refuses.
    limits: { loginFailuresPerAddress: 1000, loginFailuresPerUserAddress: 1000, loginFailuresPerUser: 1000, loginFailuresPerConnection: 100, loginUserDelayMaxMs: 0 },
  });
  port = proxy.port('imap');
  // The proxy routes once it has the placement.
  await waitFor(async () => (await loginFrom(port, '127.0.0.3', alice, 'wrong').catch(() => '')).includes('AUTHENTICATIONFAILED'), 'the proxy routes alice to node-a', START_MS);
}, 600_000);

describe('proxy → node: PROXY v2 carries the client address', () => {
  it('a login flood through the proxy from one address is refused by the node for that address only', async () => {
    // The flood: wrong passwords from 127.0.0.2, each on its own connection, up to the node's limit.
    const answers: string[] = [];
    for (let i = 0; i < NODE_FAILURES_PER_ADDRESS; i++) answers.push(await loginFrom(port, '127.0.0.2', alice, `guess-${i}`));
    expect(answers.every((a) => a.includes('AUTHENTICATIONFAILED')), answers.join(' | ')).toBe(true);
    // Now 127.0.0.2 is refused even with the right password ([UNAVAILABLE] before any password check) ...
    expect(await loginFrom(port, '127.0.0.2', alice, alice.password)).toMatch(/^L NO \[UNAVAILABLE\]/);
    // ... while another address (one failure so far, in beforeAll) logs in.
    expect(await loginFrom(port, '127.0.0.3', alice, alice.password)).toMatch(/^L OK/);
  }, 120_000);

  it('plaintext is judged on the proxy → node hop, not on the client the header names', async () => {
    // A client from afar whose proxy reaches the node over loopback: the proxy judged the client's hop, so the
    // node does not refuse the plaintext LOGIN as PRIVACYREQUIRED (plaintextAuth: loopback, the default).
    const header = encodeProxyV2({ ip: '203.0.113.9', port: 40000 }, { ip: '127.0.0.1', port: 143 });
    expect(await loginFrom(cluster!.nodes.get('node-a')!.port('imap'), '127.0.0.1', alice, alice.password, header)).toMatch(/^L OK/);
  }, 120_000);
});

describe('proxy: submission (RFC 6409) routed by the AUTH user', () => {
  it('587 with STARTTLS: AUTH goes to the owner node, which takes the message; a wrong password gets the node\'s 535', async () => {
    const mta = createTransport({
      host: '127.0.0.1',
      port: proxy.port('submission'),
      secure: false,
      requireTLS: true,
      localAddress: '127.0.0.3',
      auth: { user: alice.address, pass: alice.password },
      tls: { rejectUnauthorized: false },
    });
    const sent = await mta.sendMail({ from: alice.address, to: alice.address, subject: 'via proxy', messageId: '<submitted-via-proxy@example.test>', text: 'hi' });
    mta.close();
    expect(sent.accepted).toEqual([alice.address]);
    expect(await messageIds(port, alice)).toEqual(['<submitted-via-proxy@example.test>']);
    const wrong = createTransport({ host: '127.0.0.1', port: proxy.port('submission'), secure: false, requireTLS: true, localAddress: '127.0.0.4', auth: { user: alice.address, pass: 'nope' }, tls: { rejectUnauthorized: false } });
    await expect(wrong.verify()).rejects.toMatchObject({ responseCode: 535 });
    wrong.close();
  }, 120_000);
});
