import { beforeAll, describe, expect, it } from 'vitest';
import { CLAMD_IMAGE, RSPAMD_IMAGE, appliancePlan } from '../../../../components/appliances';
import { MailCluster } from '../../../../components/mail-cluster';
import { kubernetesMockOutputs } from '../../../../components/platforms/kubernetes';
import { type Capture, installCapture } from '../../../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../../../components/offline/mock-outputs';
import { renderRuntimeConfigs } from '../../../../components/render';
import { parseClusterSpec, type ClusterSpecInput } from '../../../../components/spec';
import { exampleSpec, expectSchemaValid, ofType, one, plain } from './helpers';

/**
 * clamd and rspamd beside the gateways on Kubernetes (examples/specs/kubernetes-ha.yaml
 * deploys both): Deployments, Services, PDBs and NetworkPolicies, checked
 * against the Kubernetes schemas, and wired into the gateways' config.
 */

const run = installCapture({ outputsFor: composeMockOutputs(commonMockOutputs, kubernetesMockOutputs) });

const T = {
  cm: 'kubernetes:core/v1:ConfigMap',
  svc: 'kubernetes:core/v1:Service',
  deploy: 'kubernetes:apps/v1:Deployment',
  pdb: 'kubernetes:policy/v1:PodDisruptionBudget',
  netpol: 'kubernetes:networking.k8s.io/v1:NetworkPolicy',
  pvc: 'kubernetes:core/v1:PersistentVolumeClaim',
} as const;

const build = (spec: ClusterSpecInput) => run(() => new MailCluster('mail-prod', { spec }).appliances);

const withFilters = (filters: Record<string, unknown>, patch: (s: Record<string, any>) => void = () => {}): ClusterSpecInput => {
  const s = structuredClone(exampleSpec()) as Record<string, any>;
  s.filters = { ...s.filters, ...filters };
  patch(s);
  return s as ClusterSpecInput;
};

type Container = { name: string; image: string; command: string[]; resources: { requests: Record<string, string>; limits: Record<string, string> }; securityContext: Record<string, unknown>; volumeMounts: { name: string; mountPath: string }[]; startupProbe?: any; livenessProbe?: any; readinessProbe?: any; ports?: { name: string; containerPort: number }[] };
const podOf = (d: ReturnType<typeof plain>) => d.spec.template.spec as { containers: Container[]; initContainers?: Container[]; volumes: { name: string; emptyDir?: unknown; configMap?: { name: string } }[]; securityContext: Record<string, unknown> };

let cap: Capture;
beforeAll(async () => {
  cap = await build(exampleSpec());
});

describe('kubernetes: clamd and rspamd beside the gateways (examples/specs/kubernetes-ha.yaml)', () => {
  it('one ConfigMap, Deployment, Service, PDB and NetworkPolicy per appliance, children of the Gateway component, valid Kubernetes objects', () => {
    expect(cap.duplicates).toEqual([]);
    const gateway = one(cap, 'mailfleet:index:Gateway', 'mail-prod-gateway');
    for (const kind of ['clamd', 'rspamd']) {
      for (const [type, suffix] of [[T.cm, 'config'], [T.deploy, 'deployment'], [T.svc, 'service'], [T.pdb, 'pdb'], [T.netpol, 'netpol']] as const) {
        expect(one(cap, type, `mail-prod-gateway-${kind}-0-${suffix}`).parent).toBe(gateway.urn);
      }
      expect(plain(one(cap, T.deploy, `mail-prod-gateway-${kind}-0-deployment`)).metadata.name).toBe(`mail-prod-${kind}-0`);
    }
    // No claim for signatures: emptyDir per pod (the only claim is the mail volume).
    expect(ofType(cap, T.pvc).map((r) => r.name)).toEqual(['mail-prod-storage-pvc']);
    expect(expectSchemaValid(cap)).toBeGreaterThan(30);
  });

  it('the gateways scan at the appliances\' Services, and the cluster outputs them', async () => {
    const gw = renderRuntimeConfigs(parseClusterSpec(exampleSpec())).find((m) => m.role === 'gateway')!.config;
    if (gw.role !== 'gateway') throw new Error('role');
    const clamd = plain(one(cap, T.svc, 'mail-prod-gateway-clamd-0-service'));
    const rspamd = plain(one(cap, T.svc, 'mail-prod-gateway-rspamd-0-service'));
    expect(clamd.spec).toMatchObject({ type: 'ClusterIP', ports: [{ name: 'clamd', port: 3310, targetPort: 'clamd', protocol: 'TCP' }] });
    expect(rspamd.spec).toMatchObject({ type: 'ClusterIP', ports: [{ name: 'rspamd', port: 11333, targetPort: 'rspamd' }] });
    expect(gw.filters.clamd?.address).toBe(`${clamd.metadata.name}.mail-prod.svc.cluster.local:3310`);
    expect(gw.filters.spam?.address).toBe(`${rspamd.metadata.name}.mail-prod.svc.cluster.local:11333`);
    // The Service selects exactly the Deployment's pods.
    for (const kind of ['clamd', 'rspamd']) {
      const svc = plain(one(cap, T.svc, `mail-prod-gateway-${kind}-0-service`));
      const d = plain(one(cap, T.deploy, `mail-prod-gateway-${kind}-0-deployment`));
      expect(d.spec.selector.matchLabels).toEqual(svc.spec.selector);
      expect(d.spec.template.metadata.labels).toMatchObject(svc.spec.selector);
      // Not a member: the members' selectors (name mailfleet) never match appliance pods.
      expect(svc.spec.selector['app.kubernetes.io/name']).not.toBe('mailfleet');
    }
    const root = cap.resources.find((r) => r.type === MailCluster.type)!;
    expect(root.outputs.appliances).toEqual([
      { id: 'mail-prod-clamd-0', kind: 'clamd', site: 'fra1', address: 'mail-prod-clamd-0.mail-prod.svc.cluster.local:3310', gateways: ['mail-prod-gateway-0', 'mail-prod-gateway-1'] },
      { id: 'mail-prod-rspamd-0', kind: 'rspamd', site: 'fra1', address: 'mail-prod-rspamd-0.mail-prod.svc.cluster.local:11333', gateways: ['mail-prod-gateway-0', 'mail-prod-gateway-1'] },
    ]);
  });

  it('clamd: pinned image, a freshclam sidecar, signatures in an emptyDir seeded from the image, PING/PONG probes, requests = limits', () => {
    const d = plain(one(cap, T.deploy, 'mail-prod-gateway-clamd-0-deployment'));
    expect(d.spec.replicas).toBe(2);
    const pod = podOf(d);
    expect(pod.containers.map((c) => c.name)).toEqual(['clamd', 'freshclam']);
    expect(pod.initContainers!.map((c) => c.name)).toEqual(['seed-signatures']);
    const [clamd, freshclam] = pod.containers as [Container, Container];
    for (const c of [...pod.containers, ...pod.initContainers!]) {
      expect(c.image, c.name).toBe(CLAMD_IMAGE);
      expect(c.resources.requests, c.name).toEqual(c.resources.limits);
      expect(c.securityContext, c.name).toEqual({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    }
    expect(clamd.resources.limits).toEqual({ cpu: '1000m', memory: '3072Mi' });
    expect(clamd.command).toEqual(['clamd']);
    expect(freshclam.command).toEqual(['freshclam', '--daemon', '--stdout']);
    for (const probe of [clamd.startupProbe, clamd.livenessProbe, clamd.readinessProbe]) {
      expect(probe.exec.command).toEqual(['clamdscan', '--ping', '1']);
    }
    expect(clamd.ports).toEqual([{ name: 'clamd', containerPort: 3310, protocol: 'TCP' }]);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 100, seccompProfile: { type: 'RuntimeDefault' } });
    const volumes = Object.fromEntries(pod.volumes.map((v) => [v.name, v]));
    expect(volumes.signatures!.emptyDir).toEqual({ sizeLimit: '2Gi' });
    expect(volumes.config!.configMap!.name).toBe('mail-prod-clamd-0-config');
    expect(clamd.volumeMounts).toEqual(expect.arrayContaining([{ name: 'signatures', mountPath: '/var/lib/clamav' }]));
    expect(freshclam.volumeMounts).toEqual(expect.arrayContaining([{ name: 'signatures', mountPath: '/var/lib/clamav' }]));
    expect(pod.initContainers![0]!.command.join(' ')).toBe('sh -c cp -a /var/lib/clamav/. /seed/');
    // The ConfigMap holds exactly what components/appliances renders.
    const plan = appliancePlan(parseClusterSpec(exampleSpec()), 'container').clamd!;
    expect(plain(one(cap, T.cm, 'mail-prod-gateway-clamd-0-config')).data).toEqual({ 'clamd.conf': plan.clamdConf, 'freshclam.conf': plan.freshclamConf });
  });

  it('rspamd: pinned image, /ping probes, local.d from its ConfigMap, writable state in emptyDirs', () => {
    const d = plain(one(cap, T.deploy, 'mail-prod-gateway-rspamd-0-deployment'));
    const pod = podOf(d);
    const [rspamd] = pod.containers as [Container];
    expect(rspamd.image).toBe(RSPAMD_IMAGE);
    for (const probe of [rspamd.startupProbe, rspamd.livenessProbe, rspamd.readinessProbe]) expect(probe.httpGet).toEqual({ path: '/ping', port: 'rspamd', scheme: 'HTTP' });
    expect(pod.securityContext).toMatchObject({ runAsUser: 11333 });
    expect(rspamd.volumeMounts).toEqual(expect.arrayContaining([{ name: 'config', mountPath: '/etc/rspamd/local.d', readOnly: true }, { name: 'data', mountPath: '/var/lib/rspamd' }]));
    const plan = appliancePlan(parseClusterSpec(exampleSpec()), 'container').rspamd!;
    expect(plain(one(cap, T.cm, 'mail-prod-gateway-rspamd-0-config')).data).toEqual(plan.localFiles);
  });

  it('NetworkPolicies: only the gateways reach a scanner; the gateways reach the scanners\' pods only; egress for updates only', () => {
    const gatewaySelector = { 'app.kubernetes.io/name': 'mailfleet', 'app.kubernetes.io/instance': 'mail-prod', 'app.kubernetes.io/component': 'gateway' };
    for (const [kind, port] of [['clamd', 3310], ['rspamd', 11333]] as const) {
      const np = plain(one(cap, T.netpol, `mail-prod-gateway-${kind}-0-netpol`)).spec;
      expect(np.policyTypes).toEqual(['Ingress', 'Egress']);
      expect(np.ingress).toEqual([{ from: [{ podSelector: { matchLabels: gatewaySelector } }], ports: [{ protocol: 'TCP', port }] }]);
    }
    // freshclam (the clamd pods) reaches the CDN over HTTPS/HTTP; rspamd online its lists, maps and fuzzy servers.
    const clamdEgress = plain(one(cap, T.netpol, 'mail-prod-gateway-clamd-0-netpol')).spec.egress;
    expect(clamdEgress.flatMap((e: any) => e.ports.map((p: any) => `${p.protocol}/${p.port}`)).sort()).toEqual(['TCP/443', 'TCP/53', 'TCP/80', 'UDP/53']);
    const gw = plain(one(cap, T.netpol, 'mail-prod-gateway-netpol')).spec.egress as { to?: any[]; ports: { port: number }[] }[];
    const toClamd = gw.filter((e) => e.ports.some((p) => p.port === 3310));
    expect(toClamd).toEqual([{ to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'clamav', 'app.kubernetes.io/instance': 'mail-prod', 'app.kubernetes.io/component': 'clamd-0' } } }], ports: [{ protocol: 'TCP', port: 3310 }] }]);
    expect(gw.filter((e) => e.ports.some((p) => p.port === 11333))[0]!.to).toEqual([
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'rspamd', 'app.kubernetes.io/instance': 'mail-prod', 'app.kubernetes.io/component': 'rspamd-0' } } },
    ]);
    // PDBs: one pod at a time.
    expect(plain(one(cap, T.pdb, 'mail-prod-gateway-clamd-0-pdb')).spec).toMatchObject({ maxUnavailable: 1 });
  });

  it('air-gapped: a mirror is the clamd pods\' only destination, offline rspamd has no egress, and updates.mode none drops freshclam and the volume', async () => {
    const mirror = await build(
      withFilters({ antivirus: { kind: 'clamd', deploy: true, updates: { mode: 'mirror', mirror: 'http://10.20.0.9:8080/clamav/' } }, spam: { kind: 'rspamd', deploy: true, offline: true } }),
    );
    expect(plain(one(mirror, T.netpol, 'mail-prod-gateway-clamd-0-netpol')).spec.egress).toEqual([
      { ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] },
      { to: [{ ipBlock: { cidr: '10.20.0.9/32' } }], ports: [{ protocol: 'TCP', port: 8080 }] },
    ]);
    expect(plain(one(mirror, T.netpol, 'mail-prod-gateway-rspamd-0-netpol')).spec.egress).toEqual([]);
    expect(plain(one(mirror, T.cm, 'mail-prod-gateway-clamd-0-config')).data['freshclam.conf']).toMatch(/^PrivateMirror http:\/\/10\.20\.0\.9:8080\/clamav\/$/m);
    expect(Object.keys(plain(one(mirror, T.cm, 'mail-prod-gateway-rspamd-0-config')).data)).toEqual(expect.arrayContaining(['rbl.conf', 'fuzzy_check.conf']));
    expectSchemaValid(mirror);

    const none = await build(withFilters({ antivirus: { kind: 'clamd', deploy: true, updates: { mode: 'none' }, image: 'registry.corp.example/clamav-with-signatures:2026.1.15' } }));
    const pod = podOf(plain(one(none, T.deploy, 'mail-prod-gateway-clamd-0-deployment')));
    expect(pod.containers.map((c) => [c.name, c.image])).toEqual([['clamd', 'registry.corp.example/clamav-with-signatures:2026.1.15']]);
    expect(pod.initContainers).toBeUndefined();
    expect(pod.volumes.map((v) => v.name)).toEqual(['config', 'tmp']);
    expect(plain(one(none, T.netpol, 'mail-prod-gateway-clamd-0-netpol')).spec.egress).toEqual([]);
    expect(Object.keys(plain(one(none, T.cm, 'mail-prod-gateway-clamd-0-config')).data)).toEqual(['clamd.conf']);
    expectSchemaValid(none);
  });

  it('one gateway: one pod per appliance; scaling gateways keeps every URN and never renames an appliance', async () => {
    const one1 = await build(withFilters({}, (s) => (s.gateways.count = 1)));
    const four = await build(withFilters({}, (s) => (s.gateways.count = 4)));
    expect(plain(one(one1, T.deploy, 'mail-prod-gateway-clamd-0-deployment')).spec.replicas).toBe(1);
    expect(plain(one(four, T.deploy, 'mail-prod-gateway-clamd-0-deployment')).spec.replicas).toBe(2);
    expect(four.resources.map((r) => r.urn).sort()).toEqual(cap.resources.map((r) => r.urn).sort());
  });

  it('an external scanner (deploy: false + address) creates nothing and the gateways use that address', async () => {
    const ext = await build(withFilters({ antivirus: { kind: 'clamd', address: 'clamav.mail-filters.svc:3310' }, spam: { kind: 'rspamd', address: '10.20.0.40:11333' } }));
    expect(ext.resources.filter((r) => /-(clamd|rspamd)-0-/.test(r.name))).toEqual([]);
    const root = ext.resources.find((r) => r.type === MailCluster.type)!;
    expect(root.outputs.appliances).toEqual([]);
    const gw = plain(one(ext, T.netpol, 'mail-prod-gateway-netpol')).spec.egress as { to?: any[]; ports: { port: number }[] }[];
    expect(gw.find((e) => e.ports.some((p) => p.port === 3310))!.to).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'mail-filters' } } }]);
    expect(gw.find((e) => e.ports.some((p) => p.port === 11333))!.to).toEqual([{ ipBlock: { cidr: '10.20.0.40/32' } }]);
  });
});
