import { webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { checkCsr, memberSubject, signMemberCertificate } from '../../mail-runtime/hub/ca';
import { MemberCertificate } from '../../mail-runtime/cluster';
import { createLogger } from '../../mail-runtime/common/log';
import { waitFor } from '../helpers/hub';
import { makeCa } from '../helpers/pki';

/**
 * The hub's side of per-member certificates (issue 12): which names a
 * member may have (a table), the PKCS#10 check (proof of possession, key
 * strength) and the signature with an RSA CA (tests, hand-made clusters)
 * and an ECDSA P-256 CA (what components/secrets.ts creates); then the
 * member's side: the answer checked, applied, and the fallback served again
 * when a certificate expires without renewal.
 */

const subtle = webcrypto.subtle;
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

async function csrFor(cn: string, alg: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams = EC): Promise<{ csrPem: string; keys: webcrypto.CryptoKeyPair }> {
  const keys = (await subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${cn}`, keys, signingAlgorithm: alg });
  return { csrPem: csr.toString('pem'), keys };
}

function pem(label: string, der: ArrayBuffer): string {
  return `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;
}

/** An ECDSA P-256 CA, as the deployment's tls provider makes it. */
async function ecCa(): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=test EC cluster CA',
    keys,
    signingAlgorithm: EC,
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 30 * 86_400_000),
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  return { certPem: cert.toString('pem'), keyPem: pem('PRIVATE KEY', await subtle.exportKey('pkcs8', keys.privateKey)) };
}

const others = [
  { id: 'node-b', role: 'node', advertise: 'node-b.mail.svc' },
  { id: 'gw-0', role: 'gateway', advertise: '10.0.0.9' },
  { id: 'node-c', role: 'node', advertise: '127.0.0.1' },
];
const hub = { id: 'hub-0', host: 'hub.mail.svc' };

describe('memberSubject: what the hub certifies for node-a (advertise node-a.mail.svc)', () => {
  const self = { advertise: 'node-a.mail.svc' };
  const table: { names?: string[]; ips?: string[]; source?: string; ok?: { dns: string[]; ips: string[] }; refused?: RegExp }[] = [
    { names: ['node-a.mail.svc'], ok: { dns: ['node-a.mail.svc'], ips: [] } },
    { names: ['node-a'], ok: { dns: [], ips: [] } },
    { ips: ['10.0.0.5'], source: '::ffff:10.0.0.5', ok: { dns: [], ips: ['10.0.0.5'] } },
    { names: ['node-b'], refused: /node-b is the member id of node node-b/ },
    { names: ['node-b.mail.svc'], refused: /node-b\.mail\.svc is the advertised host of node node-b/ },
    { names: ['hub-0'], refused: /hub-0 is the hub's name \(its member id\)/ },
    { names: ['hub.mail.svc'], refused: /hub\.mail\.svc is the hub's name \(its URL host\)/ },
    { names: ['imap.example.com'], refused: /imap\.example\.com is not a name of node-a: the hub certifies only the member id and its advertised host/ },
    { ips: ['10.0.0.9'], source: '10.0.0.5', refused: /10\.0\.0\.9 is the advertised host of gateway gw-0/ },
    { ips: ['192.0.2.1'], source: '10.0.0.5', refused: /192\.0\.2\.1 is neither the advertised address of node-a nor the address its request came from/ },
  ];
  for (const row of table) {
    it(`${JSON.stringify({ names: row.names, ips: row.ips })} → ${row.ok ? 'certified' : 'refused'}`, () => {
      const r = memberSubject({ memberId: 'node-a', names: row.names ?? [], ips: row.ips ?? [] }, self, others, hub, row.source);
      if (row.ok) {
        expect(r.refused).toEqual([]);
        expect(r.subject).toEqual({ memberId: 'node-a', ...row.ok });
      } else {
        expect(r.refused).toHaveLength(1);
        expect(r.refused[0]!.path).toMatch(/^body\.(names|ips)\.0$/);
        expect(r.refused[0]!.message).toMatch(row.refused!);
      }
    });
  }

  it('a host several members share (one machine) may be named by each: the member id is what peers check', () => {
    const r = memberSubject({ memberId: 'node-a', names: [], ips: ['127.0.0.1'] }, { advertise: '127.0.0.1' }, others, hub, '127.0.0.1');
    expect(r.refused).toEqual([]);
    expect(r.subject.ips).toEqual(['127.0.0.1']);
  });
});

describe('checkCsr and signMemberCertificate', () => {
  for (const kind of ['RSA', 'ECDSA P-256'] as const) {
    it(`a ${kind} CA signs the member's own key, naming exactly the member, for the lifetime asked`, async () => {
      const ca = kind === 'RSA' ? await makeCa('test RSA cluster CA').then((c) => ({ certPem: c.cert, keyPem: c.key })) : await ecCa();
      const { csrPem, keys } = await csrFor('node-a');
      const publicKey = await checkCsr(csrPem);
      const before = Date.now();
      const { certPem, notAfter } = await signMemberCertificate(ca, publicKey, { memberId: 'node-a', dns: ['node-a.mail.svc'], ips: ['10.0.0.5'] }, 3_600_000);
      const leaf = new X509Certificate(certPem);
      const caCert = new X509Certificate(ca.certPem);
      expect(leaf.verify(caCert.publicKey)).toBe(true);
      expect(leaf.checkIssued(caCert)).toBe(true);
      expect(leaf.subjectAltName).toBe('DNS:node-a, DNS:node-a.mail.svc, IP Address:10.0.0.5');
      expect(leaf.ca).toBe(false);
      // The certificate is for the key the member made (its private key never left it).
      const spki = Buffer.from(await subtle.exportKey('spki', keys.publicKey));
      expect(leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(spki)).toBe(true);
      expect(notAfter.getTime()).toBeGreaterThanOrEqual(before + 3_600_000);
      expect(Date.parse(leaf.validTo)).toBeLessThanOrEqual(notAfter.getTime());
      expect(leaf.checkHost('node-b', { wildcards: false, subject: 'never' })).toBeUndefined();
    });
  }

  it('refuses a request that is not PKCS#10, one whose signature does not verify, and a weak key', async () => {
    await expect(checkCsr('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n')).rejects.toMatchObject({ field: 'body.csrPem', message: expect.stringMatching(/not a PEM PKCS#10/) as string });
    // The last byte of the DER is the signature's: flipped, the request still parses but proves nothing.
    const a = await csrFor('node-a');
    const der = Buffer.from(new x509.Pkcs10CertificateRequest(a.csrPem).rawData);
    der[der.length - 1] ^= 0x01;
    await expect(checkCsr(pem('CERTIFICATE REQUEST', der.buffer.slice(der.byteOffset, der.byteOffset + der.length) as ArrayBuffer))).rejects.toMatchObject({ message: expect.stringMatching(/does not verify with its own public key/) as string });
    const weak = await csrFor('node-a', { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' });
    await expect(checkCsr(weak.csrPem)).rejects.toMatchObject({ message: expect.stringMatching(/rsa 1024 bits\) is not RSA ≥ 2048/) as string });
  });
});

describe('MemberCertificate (the member side)', () => {
  it('applies a checked certificate, refuses one naming another member, and serves the fallback again when one expires unrenewed', async () => {
    const caPems = await makeCa('test RSA cluster CA');
    const ca = { certPem: caPems.cert, keyPem: caPems.key };
    const applied: (string | undefined)[] = [];
    // The hub's answers in turn: a certificate for another member, a good one, then nothing (the hub is gone).
    let calls = 0;
    const m = new MemberCertificate({
      memberId: 'node-a',
      advertise: '127.0.0.1',
      caPem: ca.certPem,
      incarnation: () => 1,
      request: async (body) => {
        const call = ++calls;
        if (call > 2) throw Object.assign(new Error('no hub reachable'), { status: 0 });
        const key = await checkCsr(body.csrPem);
        const { certPem, notAfter } = await signMemberCertificate(ca, key, { memberId: call === 1 ? 'node-b' : body.memberId, dns: [], ips: body.ips }, 2000);
        return { certPem, caPem: ca.certPem, validForMs: 2000, notAfter: notAfter.toISOString() };
      },
      apply: (pair) => applied.push(pair ? new X509Certificate(pair.certPem).subjectAltName : undefined),
      log: createLogger({ role: 'node', member: 'node-a' }, 'silent'),
    });
    m.start();
    try {
      await waitFor(() => applied.length >= 1, 'a certificate applied', 30_000);
      // The first answer, naming node-b, was not served: the first applied is the second answer.
      expect(calls).toBeGreaterThanOrEqual(2);
      expect(applied[0]).toBe('DNS:node-a, IP Address:127.0.0.1');
      expect(m.notAfter).not.toBeNull();
      // The hub is gone from now on: at its expiry the certificate gives way to the fallback.
      await waitFor(() => applied.length >= 2, 'the fallback served again', 30_000);
      expect(applied[1]).toBeUndefined();
      expect(m.notAfter).toBeNull();
    } finally {
      m.stop();
    }
  }, 60_000);
});
