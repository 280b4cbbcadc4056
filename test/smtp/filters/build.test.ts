import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FieldProblemsError, loadRuntimeConfig, parseRuntimeConfig } from '../../../mail-runtime/config';
import { buildFilters, runFilters } from '../../../mail-runtime/smtp/filters';
import { freePort } from '../../helpers/daemon';
import { dnsStub } from '../../helpers/dns-resolver-stub';
import { dataContext } from './fakes';

/**
 * RuntimeConfig `filters` → the gateway's Filter list: each field has one
 * default (the schema) and one reader (buildFilters), and changing it
 * changes what the chain does.
 */
const dir = mkdtempSync(join(tmpdir(), 'mf-filters-config-'));
const gateway = (filters: string) => {
  const file = join(dir, `gw-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    `
role: gateway
memberId: demo-gateway-0
cluster: demo
hostname: mx.example.test
management: { host: 127.0.0.1, port: 0 }
storage: { path: /tmp/mail }
listen: { smtp: { host: 127.0.0.1, port: 0 } }
${filters}
`,
  );
  return file;
};
const load = (filters = '', env: Record<string, string> = {}) => {
  const cfg = loadRuntimeConfig({ file: gateway(filters), env });
  if (cfg.role !== 'gateway') throw new Error('role');
  return cfg;
};
const problems = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FieldProblemsError);
    return (err as FieldProblemsError).problems;
  }
  throw new Error('expected the config to be refused');
};

describe('defaults', () => {
  it('a gateway with no filters block verifies SPF/DKIM/DMARC/ARC and nothing else', () => {
    const list = buildFilters(load());
    expect(list.map((f) => [f.name, f.timeoutMs, f.onError])).toEqual([['data.authentication', 30_000, 'tempfail']]);
  });
});

describe('every filter from the config, in chain order', () => {
  it('authentication, clamd, spam, then the milters as listed', () => {
    const cfg = load(`
filters:
  authentication: { allowlist: [lists.example.org], timeoutMs: 5000, onError: accept }
  clamd: { address: unix:/run/clamav/clamd.ctl, timeoutMs: 20000, streamMaxBytes: 1048576 }
  spam: { kind: rspamd, address: 127.0.0.1:11333, timeoutMs: 15000 }
  milters:
    - { name: opendkim, address: 127.0.0.1:8891 }
    - { name: rspamd, address: "[::1]:11332", onError: accept, timeoutMs: 2000 }
`);
    expect(buildFilters(cfg).map((f) => [f.name, f.timeoutMs, f.onError])).toEqual([
      ['data.authentication', 5000, 'accept'],
      ['data.antivirus.clamd', 20_000, 'tempfail'],
      ['data.spam.rspamd', 15_000, 'accept'],
      ['data.milter.opendkim', 60_000, 'tempfail'],
      ['data.milter.rspamd', 2000, 'accept'],
    ]);
    expect(cfg.filters.clamd!.streamMaxBytes).toBe(1_048_576);
  });

  it('authentication off', () => {
    expect(buildFilters(load('filters: { authentication: { enabled: false } }'))).toEqual([]);
  });

  it('MAILFLEET_* variables reach the filters', () => {
    const cfg = load('', {
      MAILFLEET_AUTHENTICATION_TIMEOUT_MS: '1500',
      MAILFLEET_AUTHENTICATION_ALLOWLIST: 'example.net, example.org',
      MAILFLEET_CLAMD_ADDRESS: 'unix:/run/clamd.sock',
      MAILFLEET_CLAMD_TIMEOUT_MS: '7000',
      MAILFLEET_CLAMD_STREAM_MAX_BYTES: '2048',
      MAILFLEET_SPAM_KIND: 'spamd',
      MAILFLEET_SPAM_ADDRESS: '127.0.0.1:783',
      MAILFLEET_SPAM_TIMEOUT_MS: '9000',
    });
    expect(cfg.filters.authentication.allowlist).toEqual(['example.net', 'example.org']);
    expect(cfg.filters.clamd!.streamMaxBytes).toBe(2048);
    expect(buildFilters(cfg).map((f) => [f.name, f.timeoutMs])).toEqual([
      ['data.authentication', 1500],
      ['data.antivirus.clamd', 7000],
      ['data.spam.spamd', 9000],
    ]);
    expect(buildFilters(load('', { MAILFLEET_AUTHENTICATION_ENABLED: 'false' }))).toEqual([]);
  });
});

describe('bad filter config is refused, naming the field', () => {
  it.each([
    ['filters: { clamd: { address: "clamd" } }', 'filters.clamd.address'],
    ['filters: { clamd: { address: "unix:relative.sock" } }', 'filters.clamd.address'],
    ['filters: { milters: [{ name: a, address: "10.0.0.1:99999" }] }', 'filters.milters[0].address'],
    ['filters: { milters: [{ name: a, address: "10.0.0.1:1" }, { name: a, address: "10.0.0.2:1" }] }', 'filters.milters[1].name'],
    ['filters: { milters: [{ name: "Not A Label", address: "10.0.0.1:1" }] }', 'filters.milters[0].name'],
    ['filters: { authentication: { timeoutMs: 900000 } }', 'filters.authentication.timeoutMs'],
    ['filters: { authentication: { allowlist: ["not a domain"] } }', 'filters.authentication.allowlist[0]'],
    ['filters: { spam: { kind: rspamd, address: "127.0.0.1:11333", timeoutMs: 10 } }', 'filters.spam.timeoutMs'],
  ])('%s → %s', (yaml, path) => {
    expect(problems(() => load(yaml)).map((p) => p.path)).toContain(path);
  });
});

describe('a changed field changes what the chain does', () => {
  const spoof = 'From: boss@example.net\r\nTo: alice@example.test\r\nSubject: wire the money\r\n\r\nNow.\r\n';
  const resolver = dnsStub({ 'example.net': { TXT: ['v=spf1 ip4:203.0.113.1 -all'] }, '_dmarc.example.net': { TXT: ['v=DMARC1; p=reject'] } });
  const config = (filters: Record<string, unknown>) => {
    const cfg = parseRuntimeConfig({
      role: 'gateway',
      memberId: 'gw',
      cluster: 'c',
      hostname: 'mx.example.test',
      management: { port: 0 },
      storage: { path: '/tmp/x' },
      listen: { smtp: { port: 0 } },
      filters,
    });
    if (cfg.role !== 'gateway') throw new Error('role');
    return cfg;
  };

  it('authentication.allowlist: the same spoof is refused, then delivered', async () => {
    const refused = await runFilters(buildFilters(config({}), { resolver }), dataContext(spoof, { envelope: { mailFrom: 'boss@example.net', rcptTo: ['alice@example.test'] } }));
    expect(refused.verdict).toMatchObject({ kind: 'reject', reply: { code: 550 } });
    const allowed = await runFilters(
      buildFilters(config({ authentication: { allowlist: ['example.net'] } }), { resolver }),
      dataContext(spoof, { envelope: { mailFrom: 'boss@example.net', rcptTo: ['alice@example.test'] } }),
    );
    expect(allowed.verdict).toEqual({ kind: 'continue' });
  });

  it('a milter that is down: onError from the config decides (fail-closed by default, fail-open when set)', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const closed = await runFilters(buildFilters(config({ authentication: { enabled: false }, milters: [{ name: 'm', address }] })), dataContext(spoof));
    expect(closed.verdict).toMatchObject({ kind: 'tempfail', reply: { code: 451 } });
    const open = await runFilters(buildFilters(config({ authentication: { enabled: false }, milters: [{ name: 'm', address, onError: 'accept' }] })), dataContext(spoof));
    expect(open.verdict).toEqual({ kind: 'continue' });
  });
});
