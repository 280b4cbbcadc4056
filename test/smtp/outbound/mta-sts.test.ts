import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpOutbound, httpsPolicyFetcher } from '../../../mail-runtime/smtp/outbound';
import { mxMatches, parseStsPolicy, StsPolicyError } from '../../../mail-runtime/smtp/outbound/mta-sts';
import { DnsStub } from '../../helpers/dns-stub';
import { makeCa, makeLeaf, rsaKeyPair, type Pem } from '../../helpers/pki';
import { startSink, type Sink } from '../../helpers/smtp-sink';
import { entry, gatewaySettings, message } from './settings';

/**
 * MTA-STS (RFC 8461) end to end: TXT discovery through node:dns against a
 * DNS stub, the policy over real HTTPS from a local server with a private CA,
 * and remote MXes whose certificates do or do not satisfy it.
 */
let dns: DnsStub;
let ca: Pem;
let caFile: string;
let https: Server;
let httpsPort: number;
const fetches: string[] = [];
const policies: Record<string, string> = {};
const sinks: Sink[] = [];

const policy = (mode: string, mx: string[]) => ['version: STSv1', `mode: ${mode}`, ...mx.map((m) => `mx: ${m}`), 'max_age: 86400', ''].join('\r\n');

/** A domain with one MX (mx.<domain> → 127.0.0.1), an STS TXT id and a policy. */
function publish(domain: string, body: string, id = '20260101'): void {
  dns.add(domain, { type: 'MX', data: { preference: 10, exchange: `mx.${domain}` } });
  dns.add(`mx.${domain}`, { type: 'A', data: '127.0.0.1' });
  dns.add(`_mta-sts.${domain}`, { type: 'TXT', data: `v=STSv1; id=${id};` });
  policies[`mta-sts.${domain}`] = body;
}

beforeAll(async () => {
  dns = await DnsStub.start();
  const keys = rsaKeyPair();
  ca = await makeCa('mailfleet test CA');
  const dir = mkdtempSync(join(tmpdir(), 'mf-sts-'));
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.cert);
  publish('good.example', policy('enforce', ['mx.good.example']));
  publish('untrusted.example', policy('enforce', ['mx.untrusted.example']));
  publish('testing.example', policy('testing', ['mx.testing.example']));
  publish('elsewhere.example', policy('enforce', ['*.other.example']));
  publish('plain.example', policy('enforce', ['mx.plain.example']));
  const web = await makeLeaf(Object.keys(policies), { ca, keyPair: keys });
  https = createServer({ key: web.key, cert: web.cert }, (req, res) => {
    const host = String(req.headers.host);
    fetches.push(host);
    const body = policies[host];
    if (!body || req.url !== '/.well-known/mta-sts.txt') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  httpsPort = (https.address() as AddressInfo).port;
});
afterAll(async () => {
  await Promise.all(sinks.map((s) => s.close()));
  await new Promise<void>((resolve) => https.close(() => resolve()));
  await dns.close();
});

async function mx(opts: Parameters<typeof startSink>[0]): Promise<Sink> {
  const s = await startSink(opts);
  sinks.push(s);
  return s;
}

function transport(sink: Sink) {
  return SmtpOutbound.create(gatewaySettings({ resolvers: [dns.address], mxPort: sink.port, tls: { mtaSts: true, dane: false, caFile } }), {
    // The policy host is mta-sts.<domain>:443 in production; here the same HTTPS fetch, pointed at the local server.
    fetchPolicy: httpsPolicyFetcher({ resolve: async () => ['127.0.0.1'], ca: [ca.cert], port: httpsPort }),
  });
}

describe('MTA-STS (RFC 8461)', () => {
  it('enforce with a valid certificate for the listed MX: delivered over TLS, reported as a success', async () => {
    const sink = await mx({ tls: await makeLeaf(['mx.good.example'], { ca }) });
    const t = await transport(sink);
    const res = await t.deliver(entry(), ['bob@good.example'], message());
    expect(res[0]!.status).toBe('delivered');
    expect(sink.messages[0]!.secure).toBe(true);
    expect(sink.messages[0]!.servername).toBe('mx.good.example');
    // The policy is cached by id: a second delivery fetches nothing.
    const fetched = fetches.filter((f) => f === 'mta-sts.good.example').length;
    await t.deliver(entry(), ['carol@good.example'], message());
    expect(fetches.filter((f) => f === 'mta-sts.good.example').length).toBe(fetched);
    const report = t.tlsReports().find((r) => r.policies[0]!.policy['policy-domain'] === 'good.example');
    expect(report!.policies[0]).toMatchObject({ policy: { 'policy-type': 'sts', 'mx-host': ['mx.good.example'] }, summary: { 'total-successful-session-count': 2, 'total-failure-session-count': 0 } });
  });

  it('enforce with a certificate nobody vouches for: deferred, nothing sent, reported', async () => {
    const sink = await mx({ tls: await makeLeaf(['mx.untrusted.example']) });
    const t = await transport(sink);
    const res = await t.deliver(entry(), ['bob@untrusted.example'], message());
    expect(res[0]!.status).toBe('deferred');
    expect(res[0]!.reply).toMatch(/^451 4\.7\.5 /);
    expect(sink.rcptSeen).toEqual([]);
    const report = t.tlsReports().find((r) => r.policies[0]!.policy['policy-domain'] === 'untrusted.example');
    expect(report!.policies[0]!['failure-details']![0]).toMatchObject({ 'result-type': 'certificate-not-trusted', 'receiving-mx-hostname': 'mx.untrusted.example', 'receiving-ip': '127.0.0.1' });
  });

  it('enforce with a trusted certificate for another name: deferred (host mismatch)', async () => {
    const sink = await mx({ tls: await makeLeaf(['mx.wrong.example'], { ca }) });
    const t = await transport(sink);
    const res = await t.deliver(entry(), ['bob@good.example'], message());
    expect(res[0]!.status).toBe('deferred');
    expect(sink.rcptSeen).toEqual([]);
    expect(t.tlsReports()[0]!.policies[0]!['failure-details']![0]!['result-type']).toBe('certificate-host-mismatch');
  });

  it('enforce and the MX offers no STARTTLS: deferred', async () => {
    const sink = await mx({});
    const t = await transport(sink);
    const res = await t.deliver(entry(), ['bob@plain.example'], message());
    expect(res[0]!.status).toBe('deferred');
    expect(sink.rcptSeen).toEqual([]);
    expect(t.tlsReports()[0]!.policies[0]!['failure-details']![0]!['result-type']).toBe('starttls-not-supported');
  });

  it('enforce and no MX matches the policy: deferred without a connection', async () => {
    const sink = await mx({ tls: await makeLeaf(['mx.elsewhere.example'], { ca }) });
    const t = await transport(sink);
    const res = await t.deliver(entry(), ['bob@elsewhere.example'], message());
    expect(res[0]).toEqual({ status: 'deferred', reply: '451 4.7.5 no MX host of elsewhere.example matches its MTA-STS policy (enforce)' });
    expect(sink.connections).toBe(0);
  });

  it('testing mode only reports: an untrusted certificate still gets the mail', async () => {
    const sink = await mx({ tls: await makeLeaf(['mx.testing.example']) });
    const t = await transport(sink);
    const res = await t.deliver(entry(), ['bob@testing.example'], message());
    expect(res[0]!.status).toBe('delivered');
    expect(sink.messages[0]!.secure).toBe(true);
    expect(t.tlsReports()[0]!.policies[0]).toMatchObject({ summary: { 'total-failure-session-count': 1 }, 'failure-details': [{ 'result-type': 'certificate-not-trusted' }] });
  });

  it('a policy host whose certificate does not validate gives no policy (delivered opportunistically) and is reported', async () => {
    const sink = await mx({ tls: await makeLeaf(['mx.good.example']) });
    const t = await SmtpOutbound.create(gatewaySettings({ resolvers: [dns.address], mxPort: sink.port, tls: { mtaSts: true, dane: false } }), {
      // No private CA: the local policy server's certificate is not trusted.
      fetchPolicy: httpsPolicyFetcher({ resolve: async () => ['127.0.0.1'], port: httpsPort }),
    });
    const res = await t.deliver(entry(), ['bob@good.example'], message());
    expect(res[0]!.status).toBe('delivered');
    const failures = t.tlsReports().flatMap((r) => r.policies.flatMap((p) => p['failure-details'] ?? []));
    expect(failures.map((f) => f['result-type'])).toContain('sts-webpki-invalid');
  });
});

describe('MTA-STS policy text and MX patterns', () => {
  it('parses a policy and matches MX names, a wildcard standing for exactly one label (RFC 8461 §4.1)', () => {
    const p = parseStsPolicy('version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 604800\n');
    expect(p).toMatchObject({ mode: 'enforce', mx: ['mail.example.com', '*.example.net'], maxAgeSeconds: 604800 });
    expect(mxMatches('mx1.example.net', '*.example.net')).toBe(true);
    expect(mxMatches('a.mx1.example.net', '*.example.net')).toBe(false);
    expect(mxMatches('example.net', '*.example.net')).toBe(false);
    expect(mxMatches('MAIL.example.com.', 'mail.example.com')).toBe(true);
  });

  it.each([
    ['version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1', /version/],
    ['version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1', /mode/],
    ['version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601', /max_age/],
    ['version: STSv1\nmode: enforce\nmax_age: 60', /at least one mx/],
    ['<html>not a policy</html>', /key: value/],
  ])('rejects %j', (text, why) => {
    expect(() => parseStsPolicy(text)).toThrow(why);
  });

  it('never fails on garbage with anything but a policy error (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        try {
          parseStsPolicy(text);
        } catch (err) {
          expect(err).toBeInstanceOf(StsPolicyError);
        }
      }),
    );
  });
});
