import { webcrypto, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, CLUSTER_TOKEN, waitFor } from '../helpers/hub';
import { TestCluster, type RunningMember, type TestUserSpec } from '../helpers/cluster';
import { imapLoginReply } from '../helpers/imap';
import { makeCa } from '../helpers/pki';

/**
 * Per-member certificates issued by the hub (issue 12), with real hub,
 * node and proxy processes on loopback. The hub holds the cluster CA key
 * (`clusterCaKeyFile`) and signs 12-second certificates
 * (`memberCertificateSeconds`); the nodes have only the CA certificate (no
 * role certificate), make their own keys, and get a certificate naming
 * only themselves. The proxy's hop to a node is TLS verified by the CA and
 * the node's member id, and the nodes refuse plaintext logins, so a login
 * through the proxy proves the hop used the hub-issued certificate.
 */
const START_MS = 240_000;
const ANSWER_MS = 30_000;
const LIFETIME_S = 12;
let cluster: TestCluster | undefined;
let pki: string;
let caPem: string;
let nodeA: RunningMember;
let proxy: RunningMember;
let onA: TestUserSpec;

afterAll(async () => {
  await cluster?.stop();
  if (pki) await rm(pki, { recursive: true, force: true });
});

/** The certificate a node's implicit-TLS IMAP port presents to a client asking for `servername`. */
function servedCertificate(port: number, servername: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const raw = s.getPeerCertificate().raw;
      s.destroy();
      resolve(new X509Certificate(raw));
    });
    s.once('error', reject);
    s.setTimeout(ANSWER_MS, () => s.destroy(new Error('no TLS handshake')));
  });
}

/** The cluster-CA certificate node `id` serves once the hub has issued one (bounded wait); `unlike` skips a known one. */
async function issuedCertificate(port: number, id: string, unlike?: string): Promise<X509Certificate> {
  const ca = new X509Certificate(caPem);
  let found: X509Certificate | undefined;
  await waitFor(
    async () => {
      const c = await servedCertificate(port, id).catch(() => undefined);
      if (c && c.checkIssued(ca) && c.verify(ca.publicKey) && c.fingerprint256 !== unlike) found = c;
      return found !== undefined;
    },
    `${id} serves a hub-issued certificate`,
    START_MS / 2,
  );
  return found!;
}

/** One IMAP LOGIN through `port`: the tagged reply. */
const imapLogin = (port: number, u: TestUserSpec): Promise<string> => imapLoginReply(port, u.address, u.password, ANSWER_MS);

async function csr(cn: string): Promise<string> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  return (await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${cn}`, keys, signingAlgorithm: alg })).toString('pem');
}

beforeAll(async () => {
  pki = await mkdtemp(join(tmpdir(), 'mf-member-certs-pki-'));
  const ca = await makeCa('test cluster CA');
  caPem = ca.cert;
  const caFile = join(pki, 'ca.crt');
  const caKeyFile = join(pki, 'ca.key');
  await writeFile(caFile, ca.cert);
  await writeFile(caKeyFile, ca.key, { mode: 0o600 });

  const c = (cluster = await TestCluster.create('mf-member-certs-'));
  await c.planHubs(1);
  await c.startHub(0, { clusterTls: { caFile }, clusterCaKeyFile: caKeyFile, memberCertificateSeconds: LIFETIME_S });
  await c.waitActive();
  const lo = { host: '127.0.0.1', port: 0 };
  const node = { listen: { imap: lo, imaps: lo, pop3: lo, lmtp: lo }, plaintextAuth: 'never', clusterTls: { caFile } };
  [nodeA] = await Promise.all([c.startNode('node-a', node), c.startNode('node-b', node)]);
  [onA] = (await c.addUsers('example.test', 1)) as [TestUserSpec];
  await c.admin('POST', '/v1/placement/move', { address: onA.address, node: 'node-a' });
  await c.waitPlacement((p) => p.ownerOf(onA.address) === 'node-a', 'user pinned to node-a', START_MS);
  proxy = await c.startProxy('proxy-0', {
    listen: { imap: lo, pop3: lo, submission: lo },
    clusterTls: { caFile },
    limits: { loginFailuresPerAddress: 1000, loginFailuresPerUserAddress: 1000, loginFailuresPerUser: 1000, loginFailuresPerConnection: 100, loginUserDelayMaxMs: 0 },
  });
}, 600_000);

describe('hub-issued member certificates', () => {
  let first: X509Certificate;

  it('a node gets a certificate from the hub naming only itself, served to peers asking for its id; everyone else still gets the public one', async () => {
    first = await issuedCertificate(nodeA.port('imaps'), 'node-a');
    expect(first.subjectAltName).toBe('DNS:node-a, IP Address:127.0.0.1');
    expect(first.subject).toContain('CN=node-a');
    // Short-lived: the hub's lifetime (plus the notBefore backdating for clock skew).
    expect(Date.parse(first.validTo) - Date.now()).toBeLessThanOrEqual(LIFETIME_S * 1000);
    const publicCert = await servedCertificate(nodeA.port('imaps'), 'imap.example.test');
    expect(publicCert.fingerprint256).not.toBe(first.fingerprint256);
    expect(publicCert.checkIssued(new X509Certificate(caPem))).toBe(false);
    // The node reports the certificate's expiry.
    const metrics = await fetch(`http://127.0.0.1:${nodeA.port('health')}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/mailfleet_cluster_member_certificate_expiry_timestamp_seconds\{[^}]*\} [1-9]\d*/);
  }, START_MS);

  it('the proxy’s hop to the node verifies it (CA and member id) and logs the user in', async () => {
    // The proxy routes once it has the placement (a connection may race the node's slot; retried, bounded).
    await waitFor(async () => /^L OK/.test(await imapLogin(proxy.port('imap'), onA).catch(() => '')), 'a login through the proxy', START_MS / 2);
  }, START_MS);

  it('the node renews before expiry and switches live: new handshakes get the new certificate, sessions opened before keep working', async () => {
    const client = new ImapFlow({ host: '127.0.0.1', port: proxy.port('imap'), secure: false, doSTARTTLS: false, auth: { user: onA.address, pass: onA.password }, logger: false });
    await client.connect();
    try {
      await client.mailboxOpen('INBOX');
      const renewed = await issuedCertificate(nodeA.port('imaps'), 'node-a', first.fingerprint256);
      expect(renewed.subjectAltName).toBe('DNS:node-a, IP Address:127.0.0.1');
      expect(Date.parse(renewed.validTo)).toBeGreaterThan(Date.parse(first.validTo));
      // A new key each time: a leaked key is useless after its certificate's lifetime.
      expect(renewed.publicKey.export({ type: 'spki', format: 'der' }).equals(first.publicKey.export({ type: 'spki', format: 'der' }))).toBe(false);
      // The session opened over the first certificate is still served.
      expect(await client.status('INBOX', { messages: true })).toMatchObject({ messages: expect.any(Number) as number });
    } finally {
      await client.logout().catch(() => undefined);
    }
    expect(await imapLogin(proxy.port('imap'), onA)).toMatch(/^L OK/);
  }, START_MS);

  it('the hub refuses a member asking for another member’s or the hub’s name (403, JSON naming the field), an unregistered member (409) and a bad request (400)', async () => {
    const hubUrl = await cluster!.waitActive();
    const members = await cluster!.members();
    const a = members.find((m) => m.id === 'node-a') as unknown as { incarnation: number };
    const ask = (body: Record<string, unknown>) => api<{ error: { code: string; message: string; problems?: { path: string; message: string }[] } }>(hubUrl, 'POST', '/v1/cluster/certificate', { token: CLUSTER_TOKEN, body });
    const csrPem = await csr('node-a');

    const other = await ask({ memberId: 'node-a', incarnation: a.incarnation, csrPem, names: ['node-b'] });
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('forbidden');
    expect(other.body.error.problems).toEqual([{ path: 'body.names.0', message: expect.stringContaining('node-b is the member id of node node-b') as string }]);

    const hubName = await ask({ memberId: 'node-a', incarnation: a.incarnation, csrPem, names: ['hub-0'] });
    expect(hubName.status).toBe(403);
    expect(hubName.body.error.problems?.[0]?.message).toContain("hub-0 is the hub's name");

    const stranger = await ask({ memberId: 'node-z', incarnation: 1, csrPem });
    expect(stranger.status).toBe(409);
    expect(stranger.body.error.message).toContain('node-z');

    const bad = await ask({ memberId: 'node-a', incarnation: a.incarnation, csrPem: csrPem.replace(/[A-Za-z0-9+/]{20}\n/, 'AAAAAAAAAAAAAAAAAAAA\n') });
    expect(bad.status).toBe(400);
    expect(bad.body.error.problems?.[0]?.path).toBe('body.csrPem');

    // The answer to a good request carries no private key: the member made it and kept it.
    const ok = await ask({ memberId: 'node-a', incarnation: a.incarnation, csrPem });
    expect(ok.status).toBe(200);
    expect(Object.keys(ok.body).sort()).toEqual(['caPem', 'certPem', 'notAfter', 'validForMs']);
  }, START_MS);
});
