import { createHash, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpOutbound } from '../../../mail-runtime/smtp/outbound';
import { DnsStub } from '../../helpers/dns-stub';
import { makeCa, makeLeaf, type Pem } from '../../helpers/pki';
import { startSink, type Sink } from '../../helpers/smtp-sink';
import { entry, gatewaySettings, message } from './settings';

/**
 * DANE for SMTP (RFC 7672) against a DNS stub that answers with AD set for
 * its "signed" zones, as a validating resolver would, and sinks whose
 * certificates do or do not match the TLSA records.
 */
let dns: DnsStub;
let ca: Pem;
const sinks: Sink[] = [];

const spkiSha256 = (pem: string) => createHash('sha256').update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' })).digest();

beforeAll(async () => {
  dns = await DnsStub.start();
  ca = await makeCa('mailfleet DANE test CA');
});
afterAll(async () => {
  await Promise.all(sinks.map((s) => s.close()));
  await dns.close();
});

/** A domain whose MX is mx.<domain> → 127.0.0.1, signed (AD) or not, with TLSA records for the sink's port. */
async function destination(domain: string, opts: { tls?: Pem; secure: boolean; tlsa: (sink: Sink) => { usage: number; selector: number; matchingType: number; certificate: Buffer }[] }) {
  const sink = await startSink({ tls: opts.tls });
  sinks.push(sink);
  dns.add(domain, { type: 'MX', data: { preference: 10, exchange: `mx.${domain}` } }).add(`mx.${domain}`, { type: 'A', data: '127.0.0.1' });
  for (const t of opts.tlsa(sink)) dns.add(`_${sink.port}._tcp.mx.${domain}`, { type: 'TLSA', data: t });
  if (opts.secure) dns.secure(domain);
  const t = await SmtpOutbound.create(gatewaySettings({ resolvers: [dns.address], mxPort: sink.port, tls: { mtaSts: false, dane: true } }));
  return { sink, t };
}

describe('DANE (RFC 7672)', () => {
  it('DANE-EE 3 1 1 matching a self-signed certificate: delivered over TLS (no PKIX needed)', async () => {
    const tls = await makeLeaf(['some-other-name.invalid']);
    const { sink, t } = await destination('ee.example', { tls, secure: true, tlsa: () => [{ usage: 3, selector: 1, matchingType: 1, certificate: spkiSha256(tls.cert) }] });
    const res = await t.deliver(entry(), ['bob@ee.example'], message());
    expect(res[0]!.status).toBe('delivered');
    expect(sink.messages[0]!.secure).toBe(true);
    expect(dns.queries.some((q) => q.type === 'TLSA' && q.dnssec)).toBe(true);
    expect(t.tlsReports()[0]!.policies[0]).toMatchObject({ policy: { 'policy-type': 'tlsa' }, summary: { 'total-successful-session-count': 1 } });
  });

  it('DANE-EE record that matches nothing: deferred, nothing sent, reported as tlsa-invalid', async () => {
    const tls = await makeLeaf(['mx.mismatch.example']);
    const { sink, t } = await destination('mismatch.example', { tls, secure: true, tlsa: () => [{ usage: 3, selector: 1, matchingType: 1, certificate: Buffer.alloc(32, 7) }] });
    const res = await t.deliver(entry(), ['bob@mismatch.example'], message());
    expect(res[0]!.status).toBe('deferred');
    expect(res[0]!.reply).toMatch(/^451 4\.7\.5 /);
    expect(sink.rcptSeen).toEqual([]);
    expect(t.tlsReports()[0]!.policies[0]!['failure-details']![0]!['result-type']).toBe('tlsa-invalid');
  });

  it('DANE-TA 2 1 1: a chain to the named CA and the MX name in the certificate; a wrong name is refused', async () => {
    const leaf = await makeLeaf(['mx.ta.example'], { ca });
    const chain = { key: leaf.key, cert: `${leaf.cert}\n${ca.cert}` };
    const ta = { usage: 2, selector: 1, matchingType: 1, certificate: spkiSha256(ca.cert) };
    const good = await destination('ta.example', { tls: chain, secure: true, tlsa: () => [ta] });
    expect((await good.t.deliver(entry(), ['bob@ta.example'], message()))[0]!.status).toBe('delivered');

    const misnamed = await makeLeaf(['mx.somewhere-else.example'], { ca });
    const bad = await destination('ta-wrong-name.example', { tls: { key: misnamed.key, cert: `${misnamed.cert}\n${ca.cert}` }, secure: true, tlsa: () => [ta] });
    const res = await bad.t.deliver(entry(), ['bob@ta-wrong-name.example'], message());
    expect(res[0]!.status).toBe('deferred');
    expect(bad.sink.rcptSeen).toEqual([]);
    expect(bad.t.tlsReports()[0]!.policies[0]!['failure-details']![0]!['result-type']).toBe('certificate-host-mismatch');
  });

  it('TLSA records without the AD bit are not believed: the same mismatching record is ignored in an unsigned zone', async () => {
    const tls = await makeLeaf(['mx.unsigned.example']);
    const { sink, t } = await destination('unsigned.example', { tls, secure: false, tlsa: () => [{ usage: 3, selector: 1, matchingType: 1, certificate: Buffer.alloc(32, 7) }] });
    const res = await t.deliver(entry(), ['bob@unsigned.example'], message());
    expect(res[0]!.status).toBe('delivered');
    expect(sink.messages[0]!.secure).toBe(true);
  });

  it('a signed MX RRset pointing into an unsigned zone: its TLSA records lack AD and are ignored', async () => {
    const tls = await makeLeaf(['mx.unsigned-host.example']);
    const sink = await startSink({ tls });
    sinks.push(sink);
    dns
      .add('signed-mx.example', { type: 'MX', data: { preference: 10, exchange: 'mx.unsigned-host.example' } })
      .secure('signed-mx.example')
      .add('mx.unsigned-host.example', { type: 'A', data: '127.0.0.1' })
      .add(`_${sink.port}._tcp.mx.unsigned-host.example`, { type: 'TLSA', data: { usage: 3, selector: 1, matchingType: 1, certificate: Buffer.alloc(32, 7) } });
    const t = await SmtpOutbound.create(gatewaySettings({ resolvers: [dns.address], mxPort: sink.port, tls: { mtaSts: false, dane: true } }));
    const res = await t.deliver(entry(), ['bob@signed-mx.example'], message());
    expect(res[0]!.status).toBe('delivered');
    expect(dns.queries.some((q) => q.type === 'TLSA' && q.name === `_${sink.port}._tcp.mx.unsigned-host.example`)).toBe(true);
  });

  it('validated TLSA records make TLS mandatory: an MX without STARTTLS is deferred', async () => {
    const tls = await makeLeaf(['mx.notls.example']);
    const { sink, t } = await destination('notls.example', { secure: true, tlsa: () => [{ usage: 3, selector: 1, matchingType: 1, certificate: spkiSha256(tls.cert) }] });
    const res = await t.deliver(entry(), ['bob@notls.example'], message());
    expect(res[0]!.status).toBe('deferred');
    expect(sink.rcptSeen).toEqual([]);
  });

  it('a TLSA lookup that fails (SERVFAIL) in a signed zone defers rather than downgrading', async () => {
    const tls = await makeLeaf(['mx.tlsafail.example']);
    const { sink, t } = await destination('tlsafail.example', { tls, secure: true, tlsa: () => [] });
    dns.servfail(`_${sink.port}._tcp.mx.tlsafail.example`);
    const res = await t.deliver(entry(), ['bob@tlsafail.example'], message());
    expect(res[0]!.status).toBe('deferred');
    expect(sink.connections).toBe(0);
  });
});
