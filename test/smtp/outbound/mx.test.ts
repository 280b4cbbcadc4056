import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SmtpOutbound } from '../../../mail-runtime/smtp/outbound';
import { orderMx, resolveMx, createResolver } from '../../../mail-runtime/smtp/outbound/mx';
import { DnsStub } from '../../helpers/dns-stub';
import { startSink, type Sink } from '../../helpers/smtp-sink';
import { entry, gatewaySettings, message } from './settings';

/** MX lookup through node:dns against a DNS stub on loopback (RFC 5321 §5.1, RFC 7505). */
let dns: DnsStub;
let sink: Sink;
beforeAll(async () => {
  dns = await DnsStub.start();
  sink = await startSink();
  dns
    // Two MX hosts: the preferred one has an address where nothing listens, so delivery must fall back to the next.
    .add('two.example', { type: 'MX', data: { preference: 10, exchange: 'mx1.two.example' } }, { type: 'MX', data: { preference: 20, exchange: 'mx2.two.example' } })
    .add('mx1.two.example', { type: 'A', data: '127.0.0.2' })
    .add('mx2.two.example', { type: 'A', data: '127.0.0.1' })
    .add('nullmx.example', { type: 'MX', data: { preference: 0, exchange: '.' } })
    // No MX at all: the domain's own address is the implicit MX.
    .add('implicit.example', { type: 'A', data: '127.0.0.1' })
    .add('broken.example', { type: 'MX', data: { preference: 10, exchange: 'mx.broken.example' } })
    .servfail('broken.example')
    // The name exists (a TXT record) but has neither MX nor A/AAAA.
    .add('nomail.example', { type: 'TXT', data: 'v=spf1 -all' })
    .add('loop.example', { type: 'MX', data: { preference: 10, exchange: 'gw.mailfleet.test' } });
});
afterAll(async () => {
  await sink.close();
  await dns.close();
});
afterEach(() => {
  sink.messages.length = 0;
});

const transport = () => SmtpOutbound.create(gatewaySettings({ resolvers: [dns.address], mxPort: sink.port, tls: { mtaSts: false, dane: false } }));

describe('MX lookup and delivery (RFC 5321 §5.1)', () => {
  it('tries MX hosts by preference and falls back to the next when the first refuses', async () => {
    const t = await transport();
    const res = await t.deliver(entry(), ['bob@two.example'], message());
    expect(res[0]!.status).toBe('delivered');
    expect(sink.messages[0]!.rcptTo).toEqual(['bob@two.example']);
    expect(dns.queries.some((q) => q.name === 'mx1.two.example')).toBe(true);
  });

  it('uses the domain itself when it has no MX (implicit MX)', async () => {
    const t = await transport();
    const res = await t.deliver(entry(), ['bob@implicit.example'], message());
    expect(res[0]!.status).toBe('delivered');
  });

  it('a null MX (RFC 7505) fails at once with 556 5.1.10, without a connection', async () => {
    const t = await transport();
    const before = sink.connections;
    const res = await t.deliver(entry(), ['bob@nullmx.example'], message());
    expect(res[0]).toEqual({ status: 'failed', reply: '556 5.1.10 nullmx.example does not accept mail (null MX, RFC 7505)' });
    expect(sink.connections).toBe(before);
  });

  it('a domain that does not exist fails; a DNS failure defers; a loop back to us fails', async () => {
    const t = await transport();
    const res = await t.deliver(entry(), ['a@nxdomain.example', 'b@broken.example', 'c@loop.example', 'd@nomail.example'], message());
    expect(res[0]!.status).toBe('failed');
    expect(res[0]!.reply).toMatch(/^550 5\.1\.2 /);
    expect(res[1]!.status).toBe('deferred');
    expect(res[1]!.reply).toMatch(/^451 4\.4\.3 .*ESERVFAIL/);
    expect(res[2]!.status).toBe('failed');
    expect(res[2]!.reply).toMatch(/^554 5\.4\.6 /);
    expect(res[3]).toEqual({ status: 'failed', reply: '550 5.1.2 nomail.example has neither MX nor address records' });
  });

  it('orders MX records by preference, equal preferences shuffled by the random source', async () => {
    const r = createResolver([dns.address]);
    const mx = await resolveMx(r, 'two.example', 'gw.mailfleet.test');
    expect(mx).toEqual({ kind: 'hosts', implicit: false, hosts: [{ name: 'mx1.two.example', preference: 10 }, { name: 'mx2.two.example', preference: 20 }] });
    fc.assert(
      fc.property(fc.array(fc.record({ name: fc.domain(), preference: fc.integer({ min: 0, max: 3 }) }), { maxLength: 12 }), fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })), (hosts, rnd) => {
        const it = rnd[Symbol.iterator]();
        const out = orderMx(hosts, () => it.next().value as number);
        expect(out).toHaveLength(hosts.length);
        expect([...out].sort((a, b) => a.name.localeCompare(b.name) || a.preference - b.preference)).toEqual([...hosts].sort((a, b) => a.name.localeCompare(b.name) || a.preference - b.preference));
        for (let i = 1; i < out.length; i++) expect(out[i]!.preference).toBeGreaterThanOrEqual(out[i - 1]!.preference);
      }),
    );
    // Equal preferences really are shuffled: two orders seen with different random sources.
    const eq = [{ name: 'a', preference: 5 }, { name: 'b', preference: 5 }];
    const seq = (vals: number[]) => () => vals.shift()!;
    expect(orderMx(eq, seq([0.1, 0.9])).map((h) => h.name)).toEqual(['a', 'b']);
    expect(orderMx(eq, seq([0.9, 0.1])).map((h) => h.name)).toEqual(['b', 'a']);
  });
});
