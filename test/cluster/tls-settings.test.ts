import { X509Certificate } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, type RunningMember } from '../helpers/cluster';
import { waitFor } from '../helpers/hub';
import { makeLeaf, type Pem } from '../helpers/pki';

/**
 * Issue 12, settings distribution: the cluster settings' `tls` section (the
 * public certificate) is applied live by every member that serves clients —
 * the node's implicit-TLS listener, the proxy's, and the gateway MX's
 * STARTTLS — without a restart, each reporting the version it applied;
 * taking the section out brings back the certificate each started with.
 */
let cluster: TestCluster;
let node: RunningMember;
let proxy: RunningMember;
let gw: RunningMember;
const lo = { host: '127.0.0.1', port: 0 };

beforeAll(async () => {
  cluster = await TestCluster.create('mf-tls-settings-');
  await cluster.planHubs(1);
  await cluster.startHub(0);
  await cluster.waitActive();
  await cluster.addUsers('tls.test', 1);
  node = await cluster.startNode('node-a', { listen: { imap: lo, pop3: lo, lmtp: lo, imaps: lo } });
  await cluster.waitPlacement((p) => p.ring.length === 1, 'the node on the ring');
  proxy = await cluster.startProxy('proxy-0', { listen: { imap: lo, pop3: lo, submission: lo, imaps: lo } });
  gw = await cluster.startGateway('gw-0');
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

/** The SHA-256 fingerprint of the certificate a TLS server presents after `socket` (or a fresh connection) is upgraded. */
function presented(port: number, socket?: import('node:net').Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    const s: TLSSocket = tlsConnect({ ...(socket ? { socket } : { host: '127.0.0.1', port }), rejectUnauthorized: false, servername: 'mail.tls.test' }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.once('error', reject);
    s.setTimeout(15_000, () => s.destroy(new Error(`no TLS handshake on ${port} in 15 s`)));
  });
}

/** The MX's certificate, after EHLO and STARTTLS (RFC 3207) on a plain connection. */
function presentedBySmtp(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, '127.0.0.1');
    let buf = '';
    let step = 0;
    s.once('error', reject);
    s.setTimeout(15_000, () => s.destroy(new Error(`no STARTTLS on ${port} in 15 s`)));
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      // Complete replies only: the last line of a reply has a space after its code.
      if (!/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(buf)) return;
      const reply = buf;
      buf = '';
      if (step === 0) s.write('EHLO client.example.org\r\n');
      else if (step === 1) s.write('STARTTLS\r\n');
      else if (/^220/.test(reply)) {
        s.removeListener('data', onData);
        s.setTimeout(0);
        presented(port, s).then(resolve, reject);
      } else reject(new Error(`STARTTLS answered ${reply}`));
      step++;
    };
    s.on('data', onData);
  });
}

const fingerprint = (pem: Pem) => new X509Certificate(pem.cert).fingerprint256;

async function putSettings(settings: Record<string, unknown>): Promise<number> {
  const v = (await cluster.admin<{ version: number }>('PUT', '/v1/settings', { settings })).version;
  const view = async () => (await cluster.admin<{ applied: Record<string, number> }>('GET', '/v1/settings')).applied;
  await waitFor(async () => {
    const applied = await view();
    return ['node-a', 'proxy-0', 'gw-0'].every((id) => applied[id] === v);
  }, `node-a, proxy-0 and gw-0 report settings version ${v}`, 30_000);
  return v;
}

describe('cluster settings `tls`: the public certificate replaced live', () => {
  it('node IMAPS, proxy IMAPS and gateway STARTTLS present the new certificate, then their own again once it is removed', async () => {
    const before = { node: await presented(node.port('imaps')), proxy: await presented(proxy.port('imaps')), gw: await presentedBySmtp(gw.port('smtp')) };
    const leaf = await makeLeaf(['mail.tls.test']);
    await putSettings({ tls: { certPem: leaf.cert, keyPem: leaf.key } });
    expect(await presented(node.port('imaps'))).toBe(fingerprint(leaf));
    expect(await presented(proxy.port('imaps'))).toBe(fingerprint(leaf));
    expect(await presentedBySmtp(gw.port('smtp'))).toBe(fingerprint(leaf));
    // The expiry metric follows the certificate served.
    const metrics = await (await fetch(`http://127.0.0.1:${node.port('health')}/metrics`)).text();
    const notAfter = Math.round(Date.parse(new X509Certificate(leaf.cert).validTo) / 1000);
    expect(metrics).toMatch(new RegExp(`mailfleet_tls_certificate_expiry_timestamp_seconds\\{self_signed="0"[^}]*\\} ${notAfter}\\b`));

    await putSettings({});
    expect(await presented(node.port('imaps'))).toBe(before.node);
    expect(await presented(proxy.port('imaps'))).toBe(before.proxy);
    expect(await presentedBySmtp(gw.port('smtp'))).toBe(before.gw);
  }, 120_000);
});
