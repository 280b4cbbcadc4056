import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  MAIL_SERVICES,
  mailHaproxyConfig,
  renderHaproxyConfig,
  renderMailHaproxyConfig,
  type HaproxyConfigInput,
} from '../../../components/haproxy';
import { renderRuntimeConfigs, type RenderedMember } from '../../../components/render';
import { SpecError, parseTopologySpec, type ClusterSpec } from '../../../components/spec';
import { haproxyCheck, haproxyWarnings } from './validators';

const example = (name: string) =>
  parseTopologySpec(YAML.parse(readFileSync(join(__dirname, '..', '..', '..', 'examples', 'specs', name), 'utf8'))) as ClusterSpec;

const vsphere = renderRuntimeConfigs(example('vsphere-ha.yaml'));
const docker = renderRuntimeConfigs(example('docker-ha.yaml'));
const of = (members: RenderedMember[], role: string) => members.filter((m) => m.role === role);

/** The VM flavour: addresses are IPs, HAProxy runs as a systemd service under root and drops to haproxy. */
const vmConfig = () =>
  renderMailHaproxyConfig({
    proxies: of(vsphere, 'proxy'),
    gateways: of(vsphere, 'gateway'),
    hubs: of(vsphere, 'hub'),
    base: { log: 'syslog', runAs: { user: 'haproxy', group: 'haproxy' } },
  });

/** The Docker flavour: container names resolved by Docker's DNS, admin API exposed, PROXY protocol on. */
const dockerConfig = () =>
  renderMailHaproxyConfig({
    proxies: of(docker, 'proxy'),
    gateways: of(docker, 'gateway'),
    hubs: of(docker, 'hub'),
    admin: true,
    sendProxyV2: true,
    base: { resolvers: { name: 'docker', nameservers: [{ address: '127.0.0.11' }] }, statsSocket: { path: '/var/lib/haproxy/admin.sock' } },
  });

function sectionOf(text: string, head: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(head);
  if (start < 0) return [];
  const out: string[] = [];
  for (let i = start + 1; i < lines.length && lines[i]!.startsWith('    '); i++) out.push(lines[i]!.trim());
  return out;
}

describe('renderHaproxyConfig: generated text', () => {
  it('VM cluster config matches its snapshot and passes haproxy -c without warnings', async () => {
    const text = vmConfig();
    await expect(text).toMatchFileSnapshot('__snapshots__/vm-cluster.haproxy.cfg');
    const r = haproxyCheck(text);
    expect(r.output).toContain('Configuration file is valid');
    expect(r.status).toBe(0);
    expect(haproxyWarnings(r.output, false)).toEqual([]);
  });

  it('Docker config (resolvers, admin, PROXY v2) matches its snapshot and passes haproxy -c', async () => {
    const text = dockerConfig();
    await expect(text).toMatchFileSnapshot('__snapshots__/docker-cluster.haproxy.cfg');
    const r = haproxyCheck(text);
    expect(r.status).toBe(0);
    // Only container names that this machine cannot resolve may warn.
    expect(haproxyWarnings(r.output, true)).toEqual([]);
  });

  it('the validator really rejects a broken config (the check can fail)', () => {
    const broken = vmConfig().replace('balance leastconn', 'balance no-such-algorithm');
    const r = haproxyCheck(broken);
    expect(r.status).not.toBe(0);
  });

  it('every proxy and gateway is a checked server of the right backends, on its real listener port', () => {
    const text = vmConfig();
    for (const p of of(vsphere, 'proxy')) {
      for (const [service, port] of [['imap', 143], ['imaps', 993], ['pop3', 110], ['submission', 587], ['smtps', 465]] as const) {
        expect(sectionOf(text, `backend ${service}-proxies`)).toContain(`server ${p.memberId} ${p.address}:${port} check port 9090`);
      }
    }
    for (const g of of(vsphere, 'gateway')) {
      expect(sectionOf(text, 'backend smtp-gateways')).toContain(`server ${g.memberId} ${g.address}:25 check port 9090`);
      // A gateway never serves IMAP.
      expect(sectionOf(text, 'backend imap-proxies').join('\n')).not.toContain(g.address);
    }
    expect(sectionOf(text, 'frontend smtp')).toEqual(['bind 0.0.0.0:25', 'default_backend smtp-gateways']);
    expect(sectionOf(text, 'frontend imaps')).toEqual(['bind 0.0.0.0:993', 'default_backend imaps-proxies']);
  });

  it('uses leastconn, the /readyz check and IDLE-safe timeouts everywhere', () => {
    const text = vmConfig();
    const backends = text.split('\n').filter((l) => l.startsWith('backend '));
    expect(backends.length).toBeGreaterThanOrEqual(5);
    for (const b of backends) {
      const body = sectionOf(text, b);
      expect(body).toContain('balance leastconn');
      expect(body).toContain('option httpchk GET /readyz');
    }
    expect(sectionOf(text, 'defaults')).toEqual(expect.arrayContaining(['mode tcp', 'timeout client 31m', 'timeout server 31m', 'option tcpka']));
    expect(sectionOf(text, 'global')).toEqual(expect.arrayContaining(['maxconn 20000', 'stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners']));
    expect(text).not.toContain('send-proxy');
  });

  it('the admin API (443 → hubs) is forwarded only when asked for', () => {
    expect(vmConfig()).not.toMatch(/^frontend admin$/m);
    expect(vmConfig()).not.toContain(':443');
    const text = dockerConfig();
    expect(sectionOf(text, 'frontend admin')).toEqual(['bind 0.0.0.0:443', 'default_backend admin-hubs']);
    for (const h of of(docker, 'hub')) expect(sectionOf(text, 'backend admin-hubs')).toContain(`server ${h.memberId} ${h.address}:443 check port 9090 send-proxy-v2`);
  });

  it('a service gets a frontend only when some member listens for it', () => {
    const proxies = of(vsphere, 'proxy');
    const listens = (m: RenderedMember, l: string) => (m.config.listen as Record<string, unknown>)[l] !== undefined;
    const plan = mailHaproxyConfig({ proxies, gateways: of(vsphere, 'gateway'), hubs: [] });
    for (const s of MAIL_SERVICES.filter((x) => x.role === 'proxy')) {
      expect(s.service in plan.services, s.service).toBe(proxies.some((p) => listens(p, s.listener)));
    }
    // A proxy that does listen for POP3S gets a 995 frontend.
    const withPop3s = proxies.map((p) => ({ ...p, config: { ...p.config, listen: { ...p.config.listen, pop3s: { host: '0.0.0.0', port: 995 } } } }) as RenderedMember);
    const plan2 = mailHaproxyConfig({ proxies: withPop3s, gateways: of(vsphere, 'gateway'), hubs: [] });
    expect(plan2.services.pop3s).toBe(995);
    expect(haproxyCheck(renderHaproxyConfig(plan2.config)).status).toBe(0);
  });

  it('bindPort moves the frontends (e.g. unprivileged ports) without touching the server ports', () => {
    const plan = mailHaproxyConfig({ proxies: of(vsphere, 'proxy'), gateways: of(vsphere, 'gateway'), hubs: [], bindPort: (_s, p) => p + 10000 });
    expect(plan.services).toMatchObject({ smtp: 10025, imap: 10143 });
    const text = renderHaproxyConfig(plan.config);
    expect(sectionOf(text, 'frontend imap')).toContain('bind 0.0.0.0:10143');
    expect(text).toContain(`${of(vsphere, 'proxy')[0]!.address}:143 check`);
  });

  it('is deterministic', () => {
    expect(vmConfig()).toBe(vmConfig());
  });
});

describe('renderHaproxyConfig: validation', () => {
  const base = (): HaproxyConfigInput => ({
    frontends: [{ name: 'imap', port: 143, backend: 'imap-proxies' }],
    backends: [{ name: 'imap-proxies', servers: [{ name: 'p0', address: '10.0.0.30', port: 143 }] }],
  });
  const problemsOf = (input: HaproxyConfigInput): string[] => {
    try {
      renderHaproxyConfig(input);
    } catch (err) {
      if (err instanceof SpecError) return err.problems.map((p) => `${p.path}: ${p.message}`);
      throw err;
    }
    return [];
  };

  it.each<[string, (c: HaproxyConfigInput) => void, RegExp]>([
    ['unknown backend', (c) => (c.frontends[0]!.backend = 'nope'), /^frontends\[0\]\.backend: no backend named "nope"/],
    ['duplicate proxy name', (c) => c.backends.push({ name: 'imap', servers: [{ name: 'x', address: 'x', port: 1 }] }), /^backends\[1\]\.name: "imap" is already used/],
    ['duplicate bind', (c) => c.frontends.push({ name: 'imap2', port: 143, backend: 'imap-proxies' }), /^frontends\[1\]\.port: 0\.0\.0\.0:143 is already bound/],
    ['duplicate server', (c) => c.backends[0]!.servers.push({ name: 'p0', address: '10.0.0.31', port: 143 }), /servers\[1\]\.name: server "p0" appears twice/],
    ['empty backend', (c) => (c.backends[0]!.servers = []), /^backends\[0\]\.servers: a backend needs at least one server/],
    ['IDLE-unsafe client timeout', (c) => (c.timeouts = { clientSeconds: 300 }), /^timeouts\.clientSeconds: must be at least 1800/],
    ['IDLE-unsafe server timeout', (c) => (c.timeouts = { serverSeconds: 1799 }), /^timeouts\.serverSeconds: must be at least 1800/],
    ['port out of range', (c) => (c.frontends[0]!.port = 70000), /^frontends\[0\]\.port: a port is 1–65535/],
    ['address with a space', (c) => (c.backends[0]!.servers[0]!.address = '10.0.0.1 backup'), /servers\[0\]\.address: must be a host name/],
    ['name with a newline', (c) => (c.backends[0]!.servers[0]!.name = 'p0\n    server evil 1.2.3.4:25'), /servers\[0\]\.name: must be 1–64/],
    ['unknown field', (c) => ((c as Record<string, unknown>).maxconns = 5), /^maxconns: unknown field/],
    ['relative stats socket', (c) => (c.statsSocket = { path: 'admin.sock' }), /^statsSocket\.path: must be an absolute path/],
  ])('rejects %s, naming the field', (_what, mutate, expected) => {
    const c = base();
    mutate(c);
    const problems = problemsOf(c);
    expect(problems.some((p) => expected.test(p)), problems.join('\n')).toBe(true);
  });

  it('the minimal valid input renders and passes haproxy -c', () => {
    expect(problemsOf(base())).toEqual([]);
    expect(haproxyCheck(renderHaproxyConfig(base())).status).toBe(0);
  });

  it('no string a caller passes can add lines to the config (property)', () => {
    const lineCount = renderHaproxyConfig(base()).split('\n').length;
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), (name, address) => {
        const c = base();
        c.backends[0]!.servers[0] = { name, address, port: 143 };
        let text: string;
        try {
          text = renderHaproxyConfig(c);
        } catch (err) {
          return err instanceof SpecError;
        }
        return text.split('\n').length === lineCount && text.includes(`server ${name} ${address}:143 check port 9090`);
      }),
      { numRuns: 300 },
    );
  });
});
