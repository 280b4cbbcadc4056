import { describe, expect, it } from 'vitest';
import { CLAMD_IMAGE, RSPAMD_IMAGE, RSPAMD_NETWORK_MODULES, appliancePlan, clamdLimits } from '../../../components/appliances';
import { parseClusterSpec, type ClusterSpecInput } from '../../../components/spec';
import { clamconf, clamconfProblems, clamconfValue, enabledModules, rspamadm } from './validators';

/**
 * What runs inside the appliances: clamd.conf, freshclam.conf and rspamd's
 * local.d, checked by the daemons' own parsers (clamconf, rspamadm) for
 * every signature source and both kinds of host.
 */

const base: ClusterSpecInput = {
  name: 'scan',
  platform: { kind: 'docker' },
  domains: [{ name: 'example.com' }],
};
const planOf = (filters: ClusterSpecInput['filters'], extra: Partial<ClusterSpecInput> = {}, where: 'container' | 'vm' = 'container') =>
  appliancePlan(parseClusterSpec({ ...base, ...extra, filters }), where);

const MIRROR = 'https://clamav-mirror.example.net/clamav/';
const SOURCES = [{ mode: 'freshclam' as const }, { mode: 'mirror' as const, mirror: MIRROR }];

describe('clamd.conf and freshclam.conf', () => {
  it.each(['container', 'vm'] as const)('%s: clamconf accepts both files for every signature source, with the values meant', (where) => {
    for (const updates of SOURCES) {
      const plan = planOf({ antivirus: { kind: 'clamd', deploy: true, updates } }, {}, where).clamd!;
      const r = clamconf({ 'clamd.conf': plan.clamdConf, 'freshclam.conf': plan.freshclamConf! });
      expect(clamconfProblems(r), r.output).toEqual([]);
      expect(clamconfValue(r, 'TCPSocket')).toBe('3310');
      expect(clamconfValue(r, 'DatabaseDirectory')).toBe('/var/lib/clamav');
      // Same directory for both daemons (clamconf warns otherwise, caught above).
      if (updates.mode === 'mirror') {
        expect(clamconfValue(r, 'PrivateMirror')).toBe(MIRROR);
        expect(plan.freshclamConf).not.toMatch(/DatabaseMirror/);
      } else {
        expect(clamconfValue(r, 'DatabaseMirror')).toBe('database.clamav.net');
        expect(plan.freshclamConf).not.toMatch(/PrivateMirror/);
      }
      expect(clamconfValue(r, 'TestDatabases')).toBe(where === 'vm' ? 'yes' : undefined);
    }
  });

  it('the checker can fail: clamconf reports an option clamd does not know', () => {
    const plan = planOf({ antivirus: { kind: 'clamd', deploy: true } }).clamd!;
    expect(clamconfProblems(clamconf({ 'clamd.conf': `${plan.clamdConf}StreamMaxLenght 10M\n` })).join('\n')).toMatch(/Unknown option StreamMaxLenght/);
  });

  it('containers log to stdout and keep a local socket for the probes; VMs log to the journal', () => {
    const container = planOf({ antivirus: { kind: 'clamd', deploy: true } }).clamd!.clamdConf;
    const vm = planOf({ antivirus: { kind: 'clamd', deploy: true } }, {}, 'vm').clamd!.clamdConf;
    expect(container).toMatch(/^LogFile \/dev\/stdout$/m);
    expect(container).toMatch(/^LocalSocket \/tmp\/clamd\.sock$/m);
    expect(vm).toMatch(/^LogSyslog yes$/m);
    expect(vm).not.toMatch(/^(LogFile|LocalSocket) /m);
    expect(container).toMatchSnapshot();
  });

  it.each([
    [50 * 1024 * 1024, { streamMaxLength: '100M', maxFileSize: '100M', maxScanSize: '400M' }],
    [200 * 1024 * 1024, { streamMaxLength: '201M', maxFileSize: '201M', maxScanSize: '804M' }],
    [3 * 1024 * 1024 * 1024, { streamMaxLength: '3073M', maxFileSize: '3073M', maxScanSize: '4095M' }],
  ])('gateway.maxMessageBytes %d: clamd takes a stream that long, never below its defaults nor above 4 GiB', (bytes, expected) => {
    expect(clamdLimits(bytes)).toEqual(expected);
    const plan = planOf({ antivirus: { kind: 'clamd', deploy: true } }, { gateway: { maxMessageBytes: bytes } }).clamd!;
    const r = clamconf({ 'clamd.conf': plan.clamdConf });
    expect(clamconfProblems(r), r.output).toEqual([]);
    expect(Number(clamconfValue(r, 'StreamMaxLength'))).toBeGreaterThanOrEqual(Math.min(bytes, 4095 * 1024 * 1024));
  });

  it('updates.mode none: no freshclam at all; the default image and the operator image', () => {
    const plan = planOf({ antivirus: { kind: 'clamd', deploy: true, updates: { mode: 'none' } } }).clamd!;
    expect(plan.freshclamConf).toBeUndefined();
    expect(plan.updates).toEqual({ mode: 'none' });
    expect(plan.image).toBe(CLAMD_IMAGE);
    expect(planOf({ antivirus: { kind: 'clamd', deploy: true, image: 'registry.corp.example/clamav:1.4.3-sigs' } }).clamd!.image).toBe('registry.corp.example/clamav:1.4.3-sigs');
  });

  it('default updates: freshclam from the CDN; nothing is planned without deploy', () => {
    expect(planOf({ antivirus: { kind: 'clamd', deploy: true } }).clamd!.updates).toEqual({ mode: 'freshclam' });
    expect(planOf({ antivirus: { kind: 'clamd', address: '10.0.0.5:3310' }, spam: { kind: 'rspamd', address: 'r.example.net:11333' } })).toEqual({});
  });

  it('images are pinned to an exact release and a digest', () => {
    for (const image of [CLAMD_IMAGE, RSPAMD_IMAGE]) expect(image).toMatch(/^[a-z0-9./-]+:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
  });
});

describe('rspamd local.d', () => {
  const online = planOf({ spam: { kind: 'rspamd', deploy: true } }).rspamd!;
  const offline = planOf({ spam: { kind: 'rspamd', deploy: true, offline: true } }).rspamd!;

  it.each([
    ['online', online],
    ['offline', offline],
  ] as const)('%s: rspamadm configtest accepts it', (_what, plan) => {
    const r = rspamadm(plan.localFiles, ['configtest']);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('syntax OK');
  });

  it('the normal worker listens for the gateways; the controller and proxy stay on loopback; messages as large as a gateway takes', () => {
    const workers = rspamadm(online.localFiles, ['configdump', 'worker']).output;
    const worker = (name: string) => new RegExp(`^${name} \\{\\n([\\s\\S]*?)^\\}`, 'm').exec(workers)?.[1] ?? '';
    expect(worker('normal')).toMatch(/^\s*bind_socket = "\*:11333";$/m);
    expect(worker('controller')).toMatch(/^\s*bind_socket = "localhost:11334";$/m);
    expect(worker('rspamd_proxy')).toMatch(/^\s*bind_socket = "localhost:11332";$/m);
    const big = planOf({ spam: { kind: 'rspamd', deploy: true } }, { gateway: { maxMessageBytes: 80 * 1024 * 1024 } }).rspamd!;
    expect(rspamadm(big.localFiles, ['configdump', 'options']).output).toMatch(/max_message = 83886080;/);
  });

  it('offline: none of the modules that reach outside is enabled, and no enabled module fetches a URL', () => {
    const onlineModules = enabledModules(rspamadm(online.localFiles, ['configdump', '-m']));
    // Online, rspamd's defaults reach out (so this test can fail).
    expect(onlineModules).toEqual(expect.arrayContaining(['rbl', 'fuzzy_check', 'phishing', 'spf', 'multimap']));
    const modules = enabledModules(rspamadm(offline.localFiles, ['configdump', '-m']));
    expect(modules.filter((m) => (RSPAMD_NETWORK_MODULES as readonly string[]).includes(m))).toEqual([]);
    // What stays on needs nothing from outside: no map or service URL in its settings.
    const sections = rspamadm(offline.localFiles, ['configdump', ...modules]).output.split(/^\*\*\* Section /m).slice(1);
    // (A module without settings, such as bayes_expiry, has no section.)
    expect(sections.length).toBeGreaterThan(modules.length / 2);
    for (const section of sections) expect(modules).toContain(section.split(' ')[0]);
    for (const section of sections) expect(section, section.split(' ')[0]).not.toMatch(/https?:\/\//);
    expect(rspamadm(offline.localFiles, ['configdump', 'options']).output).toMatch(/disable_monitoring = true;/);
    // The fuzzy servers are not even resolved.
    expect(rspamadm(offline.localFiles, ['configtest']).output).not.toMatch(/fuzzy\d?\.rspamd\.com/);
  });
});
