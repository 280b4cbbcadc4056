import { describe, expect, it } from 'vitest';
import { RuntimeConfig, problemsFromZod } from '../../../mail-runtime/config';

const base = { role: 'gateway', memberId: 'gw-0', cluster: 'c', management: { port: 0 }, storage: { path: '/tmp/x' }, listen: { smtp: { port: 0 } } };

describe('RuntimeConfig outbound block', () => {
  it('has one default for every field', () => {
    const cfg = RuntimeConfig.parse(base);
    if (cfg.role !== 'gateway') throw new Error('role');
    expect(cfg.outbound).toEqual({
      routes: {},
      mxPort: 25,
      resolvers: [],
      maxConnectionsPerDestination: 20,
      maxConnections: 100,
      maxRecipientsPerTransaction: 100,
      tls: { mtaSts: true, dane: true },
      dkim: {},
    });
  });

  it('lower-cases route and key domains, and names what is wrong', () => {
    const cfg = RuntimeConfig.parse({ ...base, outbound: { routes: { 'Example.NET': '127.0.0.1:2526' }, dkim: { 'Brand.Example': { selector: 's1', keyFile: '/k' } } } });
    if (cfg.role !== 'gateway') throw new Error('role');
    expect(cfg.outbound.routes).toEqual({ 'example.net': '127.0.0.1:2526' });
    expect(Object.keys(cfg.outbound.dkim)).toEqual(['brand.example']);
    const bad = RuntimeConfig.safeParse({
      ...base,
      outbound: { routes: { 'example.net': 'nowhere' }, resolvers: ['dns.google'], retry: { firstDelaySeconds: 600 }, srs: { domain: 'fwd.example' }, tls: { dnssec: true } },
    });
    expect(bad.success).toBe(false);
    const problems = problemsFromZod(bad.error!).map((p) => `${p.path}: ${p.message}`);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^outbound\.routes\["example\.net"\]: must be host:port/),
        expect.stringMatching(/^outbound\.resolvers\[0\]: must be an IP address/),
        // One retry schedule, the queue's: a second one under outbound is refused.
        expect.stringMatching(/^outbound(\.retry)?: .*unknown field/),
        expect.stringMatching(/^outbound\.srs\.secretFile: /),
        expect.stringMatching(/^outbound\.tls(\.dnssec)?: .*unknown field/),
      ]),
    );
  });
});
