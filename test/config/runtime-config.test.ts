import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { FieldProblemsError, loadRuntimeConfig } from '../../mail-runtime/config';

const dir = mkdtempSync(join(tmpdir(), 'mf-config-'));
const write = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
const problems = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FieldProblemsError);
    return (err as FieldProblemsError).problems;
  }
  throw new Error('expected a FieldProblemsError');
};

const nodeYaml = `
role: node
memberId: demo-node-0
cluster: demo
management: { host: 127.0.0.1, port: 2601 }
storage: { path: /tmp/mail }
listen:
  imap: { host: 127.0.0.1, port: 2602 }
  pop3: { host: 127.0.0.1, port: 2603 }
  lmtp: { host: 127.0.0.1, port: 2604 }
`;

describe('RuntimeConfig from a file', () => {
  it('loads YAML and fills defaults', () => {
    const cfg = loadRuntimeConfig({ file: write('node.yaml', nodeYaml), env: {} });
    expect(cfg.role).toBe('node');
    expect(cfg.site).toBe('main');
    expect(cfg.plaintextAuth).toBe('loopback');
    expect(cfg.logLevel).toBe('info');
    if (cfg.role !== 'node') throw new Error('role');
    expect(cfg.listen.imap).toEqual({ host: '127.0.0.1', port: 2602 });
  });

  it('loads JSON', () => {
    const file = write('hub.json', JSON.stringify({ role: 'hub', memberId: 'demo-hub-0', cluster: 'demo', management: { port: 2600 }, storage: { path: '/s' }, listen: { http: { port: 2580 } } }));
    const cfg = loadRuntimeConfig({ file, env: {} });
    expect(cfg.role).toBe('hub');
    expect(cfg.management.host).toBe('0.0.0.0');
  });

  it('names bad fields with their path', () => {
    const file = write('bad.yaml', nodeYaml.replace('port: 2602', 'port: 70000').replace('memberId: demo-node-0', 'memberId: Demo Node'));
    const p = problems(() => loadRuntimeConfig({ file, env: {} }));
    expect(p.map((x) => x.path).sort()).toEqual(['listen.imap.port', 'memberId']);
  });

  it('sharedFolders.admins: a domain\'s own users, lower-cased; an outside address is named by its path', () => {
    const cfg = loadRuntimeConfig({ file: write('sf.yaml', `${nodeYaml}\nsharedFolders: { admins: { Example.COM: [Alice@Example.com] } }\n`), env: {} });
    if (cfg.role !== 'node') throw new Error('role');
    expect(cfg.sharedFolders.admins).toEqual({ 'example.com': ['alice@example.com'] });
    expect(loadRuntimeConfig({ file: write('sf0.yaml', nodeYaml), env: {} })).toMatchObject({ sharedFolders: { admins: {} } });
    const p = problems(() => loadRuntimeConfig({ file: write('sf-bad.yaml', `${nodeYaml}\nsharedFolders: { admins: { example.com: [eve@other.test] } }\n`), env: {} }));
    expect(p.map((x) => x.path)).toEqual(['sharedFolders.admins["example.com"][0]']);
    expect(p[0]!.message).toMatch(/not an address of example\.com/);
  });

  it('rejects unknown keys and an unknown role', () => {
    expect(problems(() => loadRuntimeConfig({ file: write('u.yaml', `${nodeYaml}\nimapPort: 143\n`), env: {} })).map((x) => x.path)).toEqual(['imapPort']);
    expect(problems(() => loadRuntimeConfig({ file: write('r.yaml', nodeYaml.replace('role: node', 'role: mta')), env: {} })).map((x) => x.path)).toEqual(['role']);
  });

  it('reports a missing file and a syntax error by file', () => {
    expect(() => loadRuntimeConfig({ file: join(dir, 'nope.yaml'), env: {} })).toThrow(/nope\.yaml[\s\S]*ENOENT/);
    expect(() => loadRuntimeConfig({ file: write('broken.json', '{ "role": '), env: {} })).toThrow(/broken\.json/);
  });
});

describe('RuntimeConfig from the environment', () => {
  const env = {
    MAILFLEET_ROLE: 'gateway',
    MAILFLEET_MEMBER_ID: 'demo-gateway-0',
    MAILFLEET_CLUSTER: 'demo',
    MAILFLEET_MANAGEMENT: '9090',
    MAILFLEET_STORAGE_PATH: '/var/lib/mailfleet',
    MAILFLEET_LISTEN_SMTP: '0.0.0.0:25',
    MAILFLEET_RELAY_NETWORKS: '10.0.0.0/8, 192.168.0.0/16',
    MAILFLEET_HOSTED_DOMAINS: 'example.com,example.org',
    MAILFLEET_CLAMD_ADDRESS: 'clamav:3310',
    MAILFLEET_LIMIT_MAX_MESSAGE_BYTES: '1048576',
  };

  it('builds a complete config', () => {
    const cfg = loadRuntimeConfig({ env });
    if (cfg.role !== 'gateway') throw new Error('role');
    expect(cfg.listen.smtp).toEqual({ host: '0.0.0.0', port: 25 });
    expect(cfg.management).toEqual({ host: '0.0.0.0', port: 9090 });
    expect(cfg.relayNetworks).toEqual(['10.0.0.0/8', '192.168.0.0/16']);
    expect(cfg.hostedDomains).toEqual(['example.com', 'example.org']);
    expect(cfg.filters.clamd).toEqual({ address: 'clamav:3310', onError: 'tempfail', timeoutMs: 60_000, streamMaxBytes: 25 * 1024 * 1024 });
    expect(cfg.limits.maxMessageBytes).toBe(1048576);
  });

  it('names the variable when a value is bad', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ MAILFLEET_LISTEN_SMTP: 'localhost:http' }, 'MAILFLEET_LISTEN_SMTP'],
      [{ MAILFLEET_LISTEN_SMTP: '0.0.0.0:99999' }, 'MAILFLEET_LISTEN_SMTP'],
      [{ MAILFLEET_LIMIT_MAX_MESSAGE_BYTES: 'lots' }, 'MAILFLEET_LIMIT_MAX_MESSAGE_BYTES'],
      [{ MAILFLEET_RELAY_NETWORKS: '10.0.0.0/8,everyone' }, 'MAILFLEET_RELAY_NETWORKS'],
      [{ MAILFLEET_MEMBER_ID: 'UPPER' }, 'MAILFLEET_MEMBER_ID'],
      [{ MAILFLEET_ROLE: 'relay' }, 'MAILFLEET_ROLE'],
      [{ MAILFLEET_LISTEN_SMPT: '25' }, 'MAILFLEET_LISTEN_SMPT'],
    ];
    for (const [override, variable] of cases) {
      const p = problems(() => loadRuntimeConfig({ env: { ...env, ...override } }));
      expect(p.map((x) => x.path), JSON.stringify(override)).toContain(variable);
    }
  });

  it('variables override a file', () => {
    const file = write('base.yaml', nodeYaml);
    const cfg = loadRuntimeConfig({ env: { MAILFLEET_CONFIG: file, MAILFLEET_LISTEN_IMAP: '127.0.0.1:1143', MAILFLEET_LOG_LEVEL: 'debug' } });
    if (cfg.role !== 'node') throw new Error('role');
    expect(cfg.listen.imap.port).toBe(1143);
    expect(cfg.logLevel).toBe('debug');
    expect(cfg.listen.pop3.port).toBe(2603);
  });

  it('a missing required field is named by its path', () => {
    const { MAILFLEET_STORAGE_PATH: _omit, ...rest } = env;
    expect(problems(() => loadRuntimeConfig({ env: rest })).map((x) => x.path)).toEqual(['storage']);
  });
});

describe('limits: one default each, in the schema', () => {
  const MiB = 1024 * 1024;
  const DEFAULTS = {
    maxMessageBytes: 50 * MiB,
    maxConnections: 5000,
    imapLiteralBytes: 64 * MiB,
    imapAppendMessages: 1000,
    maxConnectionsPerAddress: 100,
    perAddressExempt: ['127.0.0.0/8', '::1/128'],
    loginTimeoutSeconds: 30,
    tlsHandshakeSeconds: 15,
    loginFailuresPerConnection: 3,
    loginFailuresPerAddress: 10,
    loginFailuresPerUserAddress: 3,
    loginFailuresPerUser: 5,
    loginFailureWindowSeconds: 900,
    loginUserDelayMaxMs: 4000,
    loginPairDelayMs: 1000,
    passwordCheckWorkers: 'auto',
    passwordCheckQueueMs: 2000,
    credentialCacheSeconds: 60,
  };
  const node = (limits?: Record<string, unknown>) => {
    const cfg = loadRuntimeConfig({ file: write('limits.json', JSON.stringify({ ...YAML.parse(nodeYaml), ...(limits ? { limits } : {}) })), env: {} });
    if (cfg.role !== 'node') throw new Error('role');
    return cfg.limits;
  };

  it('fills every limit when none is given', () => {
    expect(node()).toEqual(DEFAULTS);
  });

  it('the IMAP literal cap follows a larger message size (an APPEND is one literal)', () => {
    expect(node({ maxMessageBytes: 100 * MiB })).toEqual({ ...DEFAULTS, maxMessageBytes: 100 * MiB, imapLiteralBytes: 100 * MiB });
    expect(node({ maxMessageBytes: 2048, imapLiteralBytes: 4096 }).imapLiteralBytes).toBe(4096);
  });

  it('refuses a literal cap below the message size, and limits below their floors, by path', () => {
    const p = problems(() => node({ maxMessageBytes: 8192, imapLiteralBytes: 4096 }));
    expect(p).toEqual([{ path: 'limits.imapLiteralBytes', message: expect.stringMatching(/at least limits\.maxMessageBytes \(8192\)/) }]);
    expect(problems(() => node({ maxConnections: 0 })).map((x) => x.path)).toEqual(['limits.maxConnections']);
    expect(problems(() => node({ maxMessageBytes: 10 })).map((x) => x.path)).toEqual(['limits.maxMessageBytes']);
    expect(problems(() => node({ maxConnectionsPerAddress: 0, loginTimeoutSeconds: 0, passwordCheckWorkers: 'many' })).map((x) => x.path)).toEqual([
      'limits.maxConnectionsPerAddress',
      'limits.loginTimeoutSeconds',
      'limits.passwordCheckWorkers',
    ]);
  });

  it('perAddressExempt takes IPv4 and IPv6 networks in CIDR notation and says so otherwise', () => {
    expect(node({ perAddressExempt: ['10.1.0.0/16', 'fd00::/8', '192.0.2.7/32'] }).perAddressExempt).toEqual(['10.1.0.0/16', 'fd00::/8', '192.0.2.7/32']);
    for (const bad of ['10.1.0.0', '10.1.0.0/33', 'fd00::/129', 'localhost/8', '10.1.0.0/8/8']) {
      expect(problems(() => node({ perAddressExempt: [bad] }))).toEqual([{ path: 'limits.perAddressExempt[0]', message: 'must be a network in CIDR notation, e.g. 127.0.0.0/8 or ::1/128' }]);
    }
  });

  it('MAILFLEET_LIMIT_* variables set them', () => {
    const cfg = loadRuntimeConfig({
      env: {
        MAILFLEET_CONFIG: write('base2.yaml', nodeYaml),
        MAILFLEET_LIMIT_MAX_CONNECTIONS: '7',
        MAILFLEET_LIMIT_IMAP_LITERAL_BYTES: '99999999',
        MAILFLEET_LIMIT_MAX_CONNECTIONS_PER_ADDRESS: '3',
        MAILFLEET_LIMIT_PER_ADDRESS_EXEMPT: '10.0.0.0/8, ::1/128',
        MAILFLEET_LIMIT_LOGIN_TIMEOUT_SECONDS: '20',
        MAILFLEET_LIMIT_TLS_HANDSHAKE_SECONDS: '5',
        MAILFLEET_LIMIT_LOGIN_FAILURES_PER_CONNECTION: '2',
        MAILFLEET_LIMIT_LOGIN_FAILURES_PER_ADDRESS: '20',
        MAILFLEET_LIMIT_LOGIN_FAILURES_PER_USER_ADDRESS: '4',
        MAILFLEET_LIMIT_LOGIN_FAILURES_PER_USER: '6',
        MAILFLEET_LIMIT_LOGIN_FAILURE_WINDOW_SECONDS: '600',
        MAILFLEET_LIMIT_LOGIN_USER_DELAY_MAX_MS: '2000',
        MAILFLEET_LIMIT_LOGIN_PAIR_DELAY_MS: '5000',
        MAILFLEET_LIMIT_PASSWORD_CHECK_WORKERS: '3',
        MAILFLEET_LIMIT_PASSWORD_CHECK_QUEUE_MS: '500',
        MAILFLEET_LIMIT_CREDENTIAL_CACHE_SECONDS: '0',
        MAILFLEET_LIMIT_IMAP_APPEND_MESSAGES: '50',
      },
    });
    expect(cfg.limits).toEqual({
      maxMessageBytes: 50 * MiB,
      maxConnections: 7,
      imapLiteralBytes: 99999999,
      imapAppendMessages: 50,
      maxConnectionsPerAddress: 3,
      perAddressExempt: ['10.0.0.0/8', '::1/128'],
      loginTimeoutSeconds: 20,
      tlsHandshakeSeconds: 5,
      loginFailuresPerConnection: 2,
      loginFailuresPerAddress: 20,
      loginFailuresPerUserAddress: 4,
      loginFailuresPerUser: 6,
      loginFailureWindowSeconds: 600,
      loginUserDelayMaxMs: 2000,
      loginPairDelayMs: 5000,
      passwordCheckWorkers: 3,
      passwordCheckQueueMs: 500,
      credentialCacheSeconds: 0,
    });
    const base = write('base3.yaml', nodeYaml);
    expect(loadRuntimeConfig({ env: { MAILFLEET_CONFIG: base, MAILFLEET_LIMIT_PASSWORD_CHECK_WORKERS: 'auto' } }).limits.passwordCheckWorkers).toBe('auto');
    expect(problems(() => loadRuntimeConfig({ env: { MAILFLEET_CONFIG: base, MAILFLEET_LIMIT_PASSWORD_CHECK_WORKERS: 'cores' } }))).toEqual([
      { path: 'MAILFLEET_LIMIT_PASSWORD_CHECK_WORKERS', message: 'must be a whole number or auto (got "cores")' },
    ]);
  });

  it('tls has no caFile (nothing would read it)', () => {
    const file = write('ca.yaml', `${nodeYaml}tls: { certFile: /c.pem, keyFile: /k.pem, caFile: /ca.pem }\n`);
    expect(problems(() => loadRuntimeConfig({ file, env: {} })).map((x) => x.path)).toEqual(['tls.caFile']);
  });
});
