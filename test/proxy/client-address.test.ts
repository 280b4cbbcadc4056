import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeProxyV2 } from '../../mail-runtime/net';
import { waitFor } from '../helpers/hub';
import { TestCluster, type TestUserSpec } from '../helpers/cluster';
import { quote } from '../helpers/imap';

/**
 * The client's address reaches the node through the proxy (PROXY v2,
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

describe('proxy → node: PROXY v2 carries the client address', () => {
  it('a login flood through the proxy from one address is refused by the node for that address only', async () => {
    cluster = await TestCluster.create('mf-proxy-addr-');
    await cluster.planHubs(1);
    await cluster.startHub(0);
    await cluster.startNode('node-a', {
      proxyProtocolFrom: ['127.0.0.1/32'],
      // Only the per-address limit acts: the per-user ones are out of reach, and no slow-down.
      limits: { loginFailuresPerAddress: NODE_FAILURES_PER_ADDRESS, loginFailuresPerUserAddress: 1000, loginFailuresPerUser: 1000, loginUserDelayMaxMs: 0 },
    });
    const [alice] = await cluster.addUsers('example.test', 1);
    await cluster.waitPlacement((p) => p.ownerOf(alice!.address) === 'node-a', 'alice placed on node-a', START_MS);
    const proxy = await cluster.startProxy('proxy-0', {
      proxy: { sendProxyProtocol: true },
      // The proxy's own limiter out of the way: it must be the node that refuses.
      limits: { loginFailuresPerAddress: 1000, loginFailuresPerUserAddress: 1000, loginFailuresPerUser: 1000, loginFailuresPerConnection: 100, loginUserDelayMaxMs: 0 },
    });
    const port = proxy.port('imap');
    // The proxy routes once it has the placement.
    await waitFor(async () => (await loginFrom(port, '127.0.0.3', alice!, 'wrong').catch(() => '')).includes('AUTHENTICATIONFAILED'), 'the proxy routes alice to node-a', START_MS);

    // The flood: wrong passwords from 127.0.0.2, each on its own connection, up to the node's limit.
    const answers: string[] = [];
    for (let i = 0; i < NODE_FAILURES_PER_ADDRESS; i++) answers.push(await loginFrom(port, '127.0.0.2', alice!, `guess-${i}`));
    expect(answers.every((a) => a.includes('AUTHENTICATIONFAILED')), answers.join(' | ')).toBe(true);
    // Now 127.0.0.2 is refused even with the right password ([UNAVAILABLE] before any password check) ...
    expect(await loginFrom(port, '127.0.0.2', alice!, alice!.password)).toMatch(/^L NO \[UNAVAILABLE\]/);
    // ... while another address (one failure so far, above) logs in.
    expect(await loginFrom(port, '127.0.0.3', alice!, alice!.password)).toMatch(/^L OK/);

    // A client from afar (as the header says) whose proxy reaches the node over loopback: plaintext is judged
    // on the proxy → node hop (the proxy judged the client's), so the plaintext LOGIN is not refused as
    // PRIVACYREQUIRED (plaintextAuth: loopback, the default).
    const header = encodeProxyV2({ ip: '203.0.113.9', port: 40000 }, { ip: '127.0.0.1', port: 143 });
    expect(await loginFrom(cluster!.nodes.get('node-a')!.port('imap'), '127.0.0.1', alice!, alice!.password, header)).toMatch(/^L OK/);
  }, 600_000);
});
