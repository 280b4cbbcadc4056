import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { runStackOffline } from '../../cli/preview/main';
import { runPolicyPack } from '../../cli/preview/policy-gate';
import { readStackConfig } from '../../cli/preview/stack-config';
import { isSecretValue, unwrapSecrets, type Capture, type CapturedResource } from '../../components/offline/capture';

/**
 * A failover pair is two stacks, one per site (issue 13). Each shipped pair
 * runs under Pulumi mocks exactly as `npm run preview` runs it: the primary
 * stack, then the standby stack whose StackReference is answered with the
 * primary's own outputs; then the policy gate on each. Refusals are shown
 * on what the component really builds, edited into the unsafe shape.
 */

const STACKS = join(__dirname, '..', '..', 'stacks');
const PLATFORMS = ['kubernetes', 'docker', 'proxmox', 'vsphere'] as const;
const SERVICE_MONITOR = 'kubernetes:monitoring.coreos.com/v1:ServiceMonitor';
type Kind = (typeof PLATFORMS)[number];

async function offline(stack: string, dir = STACKS): Promise<Capture> {
  const r = await runStackOffline(dir, readStackConfig(dir, stack));
  expect(r.setupError, stack).toBeUndefined();
  expect(r.failure, stack).toBeUndefined();
  expect(r.capture!.resources.length, `${stack}: nothing captured (mocks not installed?)`).toBeGreaterThan(3);
  expect(r.capture!.duplicates).toEqual([]);
  return r.capture!;
}

const site = (c: Capture) => c.resources.find((r) => r.type === 'mailfleet:index:FailoverSite')!;
const named = (c: Capture, type: string, name: string) => c.resources.filter((r) => r.type === type && r.name.startsWith(name));
const plain = (r: CapturedResource) => unwrapSecrets(r.inputs) as Record<string, any>;
const gate = (c: Capture, stack: string) => runPolicyPack(c, {}, { project: 'mailfleet', stack });
const mandatory = (run: Awaited<ReturnType<typeof gate>>) => run.results.filter((r) => r.enforcementLevel === 'mandatory');

/** Whether the member `${pair}-all-<i>` would run, read from the platform resource itself. */
function memberRuns(kind: Kind, c: Capture, index: number): boolean {
  const prefix = `mail-geo-all-${index}`;
  switch (kind) {
    case 'kubernetes':
      return plain(named(c, 'kubernetes:apps/v1:StatefulSet', prefix)[0]!).spec.replicas > 0;
    case 'docker': {
      const i = plain(named(c, 'docker:index/container:Container', prefix)[0]!);
      return i.start !== false || i.restart !== 'no';
    }
    case 'proxmox': {
      const i = plain(named(c, 'proxmoxve:index/vmLegacy:VmLegacy', prefix)[0]!);
      return i.started !== false || i.onBoot !== false;
    }
    case 'vsphere': {
      // Created powered on (the provider cannot do otherwise): the user data decides.
      const ud = Buffer.from(String(plain(named(c, 'vsphere:index/virtualMachine:VirtualMachine', prefix)[0]!).extraConfig['guestinfo.userdata']), 'base64');
      const text = ud[0] === 0x1f ? gunzipSync(ud).toString('utf8') : ud.toString('utf8');
      return !(/power_state:\s*\n\s*mode: poweroff/.test(text) && !/enable --now/.test(text));
    }
  }
}

describe.each(PLATFORMS)('failover pair on %s: one stack per site', (kind) => {
  it('primary runs and exports facts + a secret credential; the standby, built from its StackReference, is stopped with a least-privilege controller; the gate passes both', async () => {
    const primary = await offline(`failover-${kind}-primary`);
    expect(site(primary).outputs.site).toBe('primary');
    expect(memberRuns(kind, primary, 0)).toBe(true);
    // What the standby reads: facts in the clear (for policies), the credential as a secret.
    expect(isSecretValue(primary.outputs.failoverCredential)).toBe(true);
    expect(isSecretValue(primary.outputs.adminToken)).toBe(true);
    expect(isSecretValue(primary.outputs.failover)).toBe(false);
    const facts = primary.outputs.failover as Record<string, any>;
    expect(facts).toMatchObject({ pair: 'mail-geo', site: 'ams1', memberId: 'mail-geo-all-0', leaseDir: '/var/lib/mailfleet/failover' });
    expect(facts.power.kind).toBe(kind);
    expect(JSON.stringify(facts)).not.toMatch(/mock-sa-token|offline-preview-secret/);
    expect((await gate(primary, `failover-${kind}-primary`)).results).toEqual([]);

    const standby = await offline(`failover-${kind}-standby`);
    const s = site(standby);
    expect(s.outputs).toMatchObject({ site: 'standby', state: 'stopped', controller: true });
    // The standby was built from the primary's outputs and copied them for the policies; sites differ.
    expect(s.outputs.primary).toEqual(facts);
    expect((s.outputs.spec as any).standby.site.name).toBe('fra1');
    expect(memberRuns(kind, standby, 1)).toBe(false);
    expect(standby.resources.some((r) => r.name.startsWith('mail-geo-all-0'))).toBe(false);
    expect(isSecretValue(standby.outputs.failoverCredential)).toBe(true);
    expect((await gate(standby, `failover-${kind}-standby`)).results).toEqual([]);
  });

  it('the controller holds only least-privilege credentials', async () => {
    const standby = await offline(`failover-${kind}-standby`);
    const primaryCredential = (unwrapSecrets((await offline(`failover-${kind}-primary`)).outputs.failoverCredential) as string);
    switch (kind) {
      case 'kubernetes': {
        const role = plain(named(standby, 'kubernetes:rbac.authorization.k8s.io/v1:Role', 'mail-geo-all-1')[0]!);
        expect(role.rules).toEqual([
          { apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: ['mail-geo-all-1'], verbs: ['get'] },
          { apiGroups: ['apps'], resources: ['statefulsets/scale'], resourceNames: ['mail-geo-all-1'], verbs: ['get', 'patch', 'update'] },
        ]);
        const deployment = plain(named(standby, 'kubernetes:apps/v1:Deployment', 'mail-geo-controller')[0]!);
        expect(deployment.spec.template.spec.serviceAccountName).toBe('mail-geo-all-1-power');
        expect(standby.resources.filter((r) => /ClusterRole/.test(r.type))).toEqual([]);
        // The primary's token reaches the controller only as a secret.
        const secret = named(standby, 'kubernetes:core/v1:Secret', 'mail-geo-controller-credential')[0]!;
        expect(isSecretValue(secret.inputs.stringData) || isSecretValue((secret.inputs.stringData as any)?.['primary-credential'])).toBe(true);
        expect(primaryCredential).toMatch(/^mock-sa-token-/);
        break;
      }
      case 'docker': {
        const ctl = plain(named(standby, 'docker:index/container:Container', 'mail-geo-controller')[0]!);
        expect(ctl.mounts.filter((m: any) => m.type === 'bind')).toEqual([{ type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock' }]);
        const config = JSON.parse(ctl.uploads.find((u: any) => u.file === '/etc/mailfleet/config.json').content);
        expect(config.standby.power).toMatchObject({ kind: 'docker', endpoint: 'unix:///var/run/docker.sock', container: 'mail-geo-all-1' });
        expect(config.primary.power).toMatchObject({ kind: 'docker', endpoint: 'https://docker-ams.example.net:2376', container: 'mail-geo-all-0' });
        break;
      }
      case 'proxmox': {
        expect(plain(named(standby, 'proxmoxve:index/roleLegacy:RoleLegacy', 'mail-geo-power-role')[0]!).privileges).toEqual(['VM.Audit', 'VM.PowerMgmt']);
        const acls = named(standby, 'proxmoxve:index/aclLegacy:AclLegacy', 'mail-geo-power-acl').map(plain);
        expect(acls.map((a) => [a.path, a.propagate])).toEqual([['/vms/4000', false], ['/vms/4000', false]]);
        expect(plain(named(standby, 'proxmoxve:user/tokenLegacy:TokenLegacy', 'mail-geo-power-token')[0]!).privilegesSeparation).toBe(true);
        // The controller VM's user data (a secret as a whole) carries the primary's token.
        const snippet = named(standby, 'proxmoxve:index/fileLegacy:FileLegacy', 'mail-geo-controller')[0]!;
        expect(isSecretValue(snippet.inputs.sourceRaw)).toBe(true);
        break;
      }
      case 'vsphere': {
        const ctl = named(standby, 'vsphere:index/virtualMachine:VirtualMachine', 'mail-geo-controller')[0]!;
        expect(isSecretValue(ctl.inputs.extraConfig)).toBe(true);
        const facts = site(standby).outputs.facts as Record<string, any>;
        expect(facts.power).toMatchObject({ kind: 'vsphere', endpoint: 'https://vcenter-fra.example.net', username: 'mailfleet-power-standby@vsphere.local' });
        break;
      }
    }
  });
});

describe('docker over TCP with --tlsverify', () => {
  it("the primary's engine client bundle (secrets) configures its provider, travels as the secret credential and is mounted into the standby's controller, whose config names the three files", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailfleet-failover-docker-tls-'));
    cpSync(STACKS, dir, { recursive: true });
    const file = join(dir, 'Pulumi.failover-docker-primary.yaml');
    const doc = YAML.parse(readFileSync(file, 'utf8'));
    // `pulumi config set --secret dockerTlsCa < ca.pem` (…Cert, …Key) writes these; offline they read as the placeholder.
    for (const k of ['dockerTlsCa', 'dockerTlsCert', 'dockerTlsKey']) doc.config[`mailfleet:${k}`] = { secure: 'v1:offline' };
    writeFileSync(file, YAML.stringify(doc));
    const primary = await offline('failover-docker-primary', dir);
    const provider = named(primary, 'pulumi:providers:docker', 'mail-geo-host')[0]!;
    expect(isSecretValue(provider.inputs.keyMaterial)).toBe(true);
    expect(plain(provider)).toMatchObject({ host: 'tcp://docker-ams.example.net:2376', caMaterial: 'offline-preview-secret', certMaterial: 'offline-preview-secret', keyMaterial: 'offline-preview-secret' });
    expect((primary.outputs.failover as any).power).toEqual({ kind: 'docker', endpoint: 'https://docker-ams.example.net:2376', container: 'mail-geo-all-0', tls: true });
    expect(isSecretValue(primary.outputs.failoverCredential)).toBe(true);
    expect(JSON.parse(unwrapSecrets(primary.outputs.failoverCredential) as string)).toEqual({ ca: 'offline-preview-secret', cert: 'offline-preview-secret', key: 'offline-preview-secret' });

    const standby = await offline('failover-docker-standby', dir);
    const ctl = named(standby, 'docker:index/container:Container', 'mail-geo-controller')[0]!;
    const uploads = plain(ctl).uploads as { file: string; content: string; permissions: string }[];
    const config = JSON.parse(uploads.find((u) => u.file === '/etc/mailfleet/config.json')!.content);
    const tls = { caFile: '/etc/mailfleet/power/primary-credential-ca.pem', certFile: '/etc/mailfleet/power/primary-credential-cert.pem', keyFile: '/etc/mailfleet/power/primary-credential-key.pem' };
    expect(config.primary.power).toMatchObject({ kind: 'docker', endpoint: 'https://docker-ams.example.net:2376', tls });
    // The standby's own engine is its socket: no TLS there.
    expect(config.standby.power.tls).toBeUndefined();
    for (const f of Object.values(tls)) expect(uploads.find((u) => u.file === f), f).toMatchObject({ content: 'offline-preview-secret', permissions: '0400' });
    expect(isSecretValue(ctl.inputs.uploads)).toBe(true);
    expect((await gate(standby, 'failover-docker-standby')).results).toEqual([]);
  });

  it('without the bundle the controller has no TLS files (and the stack warns: its https endpoint would refuse the controller)', async () => {
    const standby = await offline('failover-docker-standby');
    const ctl = named(standby, 'docker:index/container:Container', 'mail-geo-controller')[0]!;
    const uploads = plain(ctl).uploads as { file: string }[];
    expect(uploads.filter((u) => u.file.startsWith('/etc/mailfleet/power/'))).toEqual([]);
  });
});

describe('the policy gate refuses an unsafe pair', () => {
  it('a standby whose member would run (replicas edited to 1) is refused', async () => {
    const standby = await offline('failover-kubernetes-standby');
    const sts = named(standby, 'kubernetes:apps/v1:StatefulSet', 'mail-geo-all-1')[0]!;
    for (const props of [sts.inputs, sts.outputs]) (props.spec as any).replicas = 1;
    const findings = mandatory(await gate(standby, 'failover-kubernetes-standby'));
    expect(findings.map((f) => f.policyName)).toEqual(['failover-pairs']);
    expect(findings[0]!.message).toContain('replicas is 1');
  });

  it('a docker standby container that would start is refused', async () => {
    const standby = await offline('failover-docker-standby');
    const c = named(standby, 'docker:index/container:Container', 'mail-geo-all-1')[0]!;
    for (const props of [c.inputs, c.outputs]) props.start = true;
    expect(mandatory(await gate(standby, 'failover-docker-standby')).map((f) => f.policyName)).toEqual(['failover-pairs']);
  });

  it('a standby stack whose pair puts it in the site the primary was deployed in is refused', async () => {
    // The standby's copy of the pair spec drifted: it calls its own site ams1, where the deployed primary is.
    const dir = mkdtempSync(join(tmpdir(), 'mailfleet-failover-'));
    cpSync(STACKS, dir, { recursive: true });
    const env = YAML.parse(readFileSync(join(dir, 'esc', 'failover-proxmox.yaml'), 'utf8'));
    const pair = env.values.pulumiConfig['mailfleet:pair'];
    pair.primary.site.name = 'ams2';
    pair.standby.site.name = 'ams1';
    const file = join(dir, 'Pulumi.failover-proxmox-standby.yaml');
    const doc = YAML.parse(readFileSync(file, 'utf8'));
    doc.config['mailfleet:pair'] = pair;
    writeFileSync(file, YAML.stringify(doc));
    const standby = await offline('failover-proxmox-standby', dir);
    expect((site(standby).outputs.primary as any).site).toBe('ams1');
    const findings = mandatory(await gate(standby, 'failover-proxmox-standby'));
    expect(findings.map((f) => f.policyName)).toEqual(['failover-pairs']);
    expect(findings[0]!.message).toContain('same site "ams1"');
  });

  it('monitoring.serviceMonitor on a kubernetes pair: each site scrapes its member through a ClusterIP metrics Service and a ServiceMonitor carrying serviceMonitorLabels; off by default', async () => {
    expect(named(await offline('failover-kubernetes-primary'), SERVICE_MONITOR, 'mail-geo')).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'mailfleet-failover-'));
    cpSync(STACKS, dir, { recursive: true });
    const envFile = join(dir, 'esc', 'failover-kubernetes.yaml');
    const env = YAML.parse(readFileSync(envFile, 'utf8'));
    env.values.pulumiConfig['mailfleet:pair'].monitoring = { serviceMonitor: true, serviceMonitorLabels: { release: 'kube-prometheus-stack' } };
    writeFileSync(envFile, YAML.stringify(env));
    for (const [stack, index] of [['failover-kubernetes-primary', 0], ['failover-kubernetes-standby', 1]] as const) {
      const cap = await offline(stack, dir);
      const sms = named(cap, SERVICE_MONITOR, `mail-geo-all-${index}`);
      expect(sms, stack).toHaveLength(1);
      const sm = plain(sms[0]!);
      expect(() => new ServiceMonitor(sm as ConstructorParameters<typeof ServiceMonitor>[0]).validate()).not.toThrow();
      expect(sm.metadata.labels.release).toBe('kube-prometheus-stack');
      expect(sm.spec.endpoints[0]).toMatchObject({ port: 'management', path: '/metrics', relabelings: [{ targetLabel: 'job', replacement: 'mailfleet' }] });
      const services = named(cap, 'kubernetes:core/v1:Service', `mail-geo-all-${index}`).map(plain);
      const selected = services.filter((svc) => Object.entries(sm.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => svc.metadata.labels[k] === v));
      expect(selected, stack).toHaveLength(1);
      expect(selected[0]!.spec.type).toBe('ClusterIP');
      expect(selected[0]!.spec.ports.map((p: { name: string }) => p.name)).toEqual(['management']);
      // The client-facing Service never carries the management port.
      for (const svc of services.filter((x) => x !== selected[0])) expect(svc.spec.ports.map((p: { name: string }) => p.name)).not.toContain('management');
    }
  });
});
