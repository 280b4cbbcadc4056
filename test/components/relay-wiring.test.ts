import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { MailCluster } from '../../components/mail-cluster';
import { credentialsFromStackConfig } from '../../components/platforms';
import { decodeGuestinfo } from '../../components/platforms/vsphere';
import { commonMockOutputs, composeMockOutputs, installCapture, isSecretValue, platformInvokeResult, platformMockOutputs, unwrapSecrets, type Capture } from '../../components/offline';
import { STANDARD_PORTS } from '../../components/render';
import { parseClusterSpec, type ClusterSpecInput } from '../../components/spec';
import { parseRuntimeConfig, type RuntimeConfig, type RuntimeConfigOf } from '../../mail-runtime/config';

/**
 * The relay hop as deployed: every gateway's shipped RuntimeConfig has a
 * relay listener (`listen.relay`), every node's has `gatewayRelay` naming a
 * gateway the platform really creates, at that listener's port, and both
 * read the cluster token (a Pulumi secret) from the file their config names.
 * On Kubernetes the relay is a port of the gateways' cluster-internal
 * Service, never of the public SMTP Service, and only nodes may reach it.
 */

const run = installCapture({
  stack: 'relay',
  config: { 'proxmoxve:apiToken': 'mailfleet@pve!deploy=0b6c3a4e-1f2d-4c5b-9a8e-7d6c5b4a3f21', 'vsphere:user': 'svc@vsphere.local', 'vsphere:password': 'pw' },
  secretKeys: ['proxmoxve:apiToken', 'vsphere:password'],
  outputsFor: composeMockOutputs(commonMockOutputs, platformMockOutputs),
  invokeResult: platformInvokeResult,
});

const vmNet = { cidr: '10.71.0.0/24', gateway: '10.71.0.1', firstAddress: '10.71.0.10' };
const nfs = { kind: 'nfs' as const, server: '10.71.0.5', path: '/export/mail', sizeGiB: 100 };
const PLATFORMS = {
  kubernetes: { platform: { kind: 'kubernetes' }, storage: { kind: 'pvc-rwx', storageClass: 'cephfs', sizeGiB: 100 } },
  docker: { platform: { kind: 'docker', hosts: ['ssh://d1.example.net', 'ssh://d2.example.net'] }, storage: { kind: 'docker-volume', sizeGiB: 100, nfs: { server: '10.71.0.5', path: '/export/mail' } } },
  proxmox: { platform: { kind: 'proxmox', endpoint: 'https://pve.example.net:8006/', nodes: ['pve1', 'pve2'], templateVmId: 9000, network: vmNet }, storage: nfs },
  vsphere: {
    platform: { kind: 'vsphere', server: 'vc.example.net', datacenter: 'dc1', cluster: 'c1', datastore: 'ds1', network: 'pg1', template: 'debian-12', addresses: vmNet },
    storage: nfs,
    loadBalancer: { kind: 'haproxy', replicas: 2, vip: '10.71.0.8' },
  },
} satisfies Record<string, Pick<ClusterSpecInput, 'platform' | 'storage' | 'loadBalancer'>>;
type Kind = keyof typeof PLATFORMS;
const KINDS = Object.keys(PLATFORMS) as Kind[];

const spec = (kind: Kind): ClusterSpecInput => ({ name: 'rl', domains: [{ name: 'example.com' }], nodes: { count: 3 }, gateways: { count: 2 }, ...PLATFORMS[kind] });

/**
 * Every RuntimeConfig the capture ships, wherever the platform puts it: a
 * ConfigMap key, a Docker upload, a cloud-init file (Proxmox snippet,
 * vSphere guestinfo), each parsed with the runtime's own schema.
 */
function shippedConfigs(cap: Capture): RuntimeConfig[] {
  const out = new Map<string, RuntimeConfig>();
  const visit = (v: unknown, depth: number): void => {
    if (depth > 40) return;
    if (typeof v === 'string') {
      const t = v.trimStart();
      if (t.startsWith('{') && t.includes('"memberId"')) {
        const json = JSON.parse(t) as { memberId?: unknown; role?: unknown };
        if (typeof json.memberId === 'string' && typeof json.role === 'string') out.set(json.memberId, parseRuntimeConfig(json, `shipped config of ${json.memberId}`));
      } else if (t.startsWith('#cloud-config')) {
        visit(YAML.parse(t), depth + 1);
      }
      return;
    }
    if (Array.isArray(v)) v.forEach((x) => visit(x, depth + 1));
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (Object.keys(o).some((k) => k.startsWith('guestinfo.'))) visit(decodeGuestinfo(o).userData, depth + 1);
      else Object.values(o).forEach((x) => visit(x, depth + 1));
    }
  };
  for (const r of cap.resources) visit(unwrapSecrets(r.inputs), 0);
  return [...out.values()];
}

const inputsOf = (cap: Capture, type: string) => cap.resources.filter((r) => r.type === type).map((r) => ({ name: r.name, i: unwrapSecrets(r.inputs) as Record<string, any> }));

/** True when `host` is a gateway the platform creates, reachable at `port` there. */
function gatewayAt(cap: Capture, kind: Kind, host: string, port: number): boolean {
  switch (kind) {
    case 'kubernetes':
      // Gateways are a StatefulSet behind a headless Service: `<pod>.<service>.<ns>.svc.cluster.local` names one gateway pod.
      return inputsOf(cap, 'kubernetes:core/v1:Service').some(({ i }) => {
        const svc = i.metadata.name as string;
        const m = new RegExp(`^${svc}-(\\d+)\\.${svc}\\.mailfleet-rl\\.svc\\.cluster\\.local$`).exec(host);
        if (!m || i.spec.selector?.['app.kubernetes.io/component'] !== 'gateway' || !i.spec.ports.some((p: any) => p.port === port && p.name === 'relay')) return false;
        const set = inputsOf(cap, 'kubernetes:apps/v1:StatefulSet').find(({ i: s }) => s.metadata.name === svc);
        return !!set && Number(m[1]) < set.i.spec.replicas && set.i.spec.serviceName === svc;
      });
    case 'docker':
      return inputsOf(cap, 'docker:index/container:Container').some(({ i }) => i.name === host && /-gateway-\d+$/.test(host) && i.networksAdvanced.some((n: any) => n.aliases.includes(host)));
    case 'proxmox':
      return inputsOf(cap, 'proxmoxve:index/vmLegacy:VmLegacy').some(({ i }) => /-gateway-\d+$/.test(i.name) && i.initialization.ipConfigs[0].ipv4.address === `${host}/24`);
    case 'vsphere':
      return inputsOf(cap, 'vsphere:index/virtualMachine:VirtualMachine').some(({ i }) => /-gateway-\d+$/.test(i.name) && String(i.annotation).includes(`, ${host}.`));
  }
}

const captures = new Map<Kind, Capture>();
beforeAll(async () => {
  for (const kind of KINDS) {
    const input = spec(kind);
    const cap = await run(() => new MailCluster('rl', { spec: input, credentials: credentialsFromStackConfig(parseClusterSpec(input).platform.kind) }));
    expect(cap.duplicates).toEqual([]);
    captures.set(kind, cap);
  }
}, 300_000);

describe('the relay hop, as every platform deploys it', () => {
  it.each(KINDS)('%s: gateways ship listen.relay, nodes ship gatewayRelay pointing at a gateway the platform creates', (kind) => {
    const cap = captures.get(kind)!;
    const configs = shippedConfigs(cap);
    const gateways = configs.filter((c): c is RuntimeConfigOf<'gateway'> => c.role === 'gateway');
    const nodes = configs.filter((c): c is RuntimeConfigOf<'node'> => c.role === 'node');
    // Kubernetes ships one config per gateway replica too (index 0's is the pods'); VMs and containers one each.
    expect(gateways.length).toBe(2);
    expect(nodes.length).toBe(3);
    for (const g of gateways) {
      expect(g.listen.relay, g.memberId).toEqual({ host: '0.0.0.0', port: STANDARD_PORTS.relay });
      expect(g.clusterTokenFile, g.memberId).toBe('/etc/mailfleet/secrets/cluster-token');
    }
    const used = new Set<string>();
    for (const n of nodes) {
      expect(n.gatewayRelay, n.memberId).toBeDefined();
      const at = n.gatewayRelay!.lastIndexOf(':');
      const host = n.gatewayRelay!.slice(0, at);
      const port = Number(n.gatewayRelay!.slice(at + 1));
      expect(port, n.memberId).toBe(STANDARD_PORTS.relay);
      expect(gatewayAt(cap, kind, host, port), `${n.memberId} relays through ${n.gatewayRelay}`).toBe(true);
      expect(n.clusterTokenFile, n.memberId).toBe('/etc/mailfleet/secrets/cluster-token');
      used.add(host);
    }
    // Nodes spread over the gateways: every platform gives each gateway its own address (Kubernetes: per-pod DNS).
    expect(used.size).toBe(2);
  });

  it.each(KINDS)('%s: the cluster token both ends log in with is a Pulumi secret, never in clear', (kind) => {
    const cap = captures.get(kind)!;
    const token = cap.resources.find((r) => r.type === 'random:index/randomPassword:RandomPassword' && r.name === 'rl-cluster-token');
    expect(token, 'cluster token resource').toBeDefined();
    const value = String(token!.outputs.result);
    expect(value.length).toBeGreaterThan(10);
    // Wherever it is used as an input it arrives wrapped as a secret.
    const clear = JSON.stringify(cap.resources.filter((r) => r !== token).map((r) => stripSecrets(r.inputs)));
    expect(clear.includes(value)).toBe(false);
    // ...and it does reach the members (vSphere: inside the encoded guestinfo user data).
    const texts: string[] = [];
    const visit = (v: unknown): void => {
      if (typeof v === 'string') texts.push(v);
      else if (Array.isArray(v)) v.forEach(visit);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (Object.keys(o).some((k) => k.startsWith('guestinfo.'))) texts.push(decodeGuestinfo(o).userData);
        else Object.values(o).forEach(visit);
      }
    };
    cap.resources.filter((r) => r !== token).forEach((r) => visit(unwrapSecrets(r.inputs)));
    expect(texts.some((t) => t.includes(value)), 'the token reaches the members').toBe(true);
  });

  it('kubernetes: the relay port is on the gateways container and their internal Service, never on the public SMTP Service', () => {
    const cap = captures.get('kubernetes')!;
    const services = inputsOf(cap, 'kubernetes:core/v1:Service');
    const publicSmtp = services.find(({ name }) => name === 'rl-lb-smtp')!;
    expect(publicSmtp.i.spec.ports.map((p: any) => p.name)).toEqual(['smtp']);
    const internal = services.find(({ i }) => i.metadata.name === 'rl-gateway')!;
    // Headless (the gateways' StatefulSet governs it): internal only, one DNS name per gateway.
    expect(internal.i.spec.clusterIP).toBe('None');
    expect(internal.i.spec.type ?? 'ClusterIP').toBe('ClusterIP');
    expect(internal.i.spec.ports).toContainEqual({ name: 'relay', port: 587, targetPort: 'relay', protocol: 'TCP' });
    const deployment = inputsOf(cap, 'kubernetes:apps/v1:StatefulSet').find(({ i }) => i.metadata.name === 'rl-gateway')!;
    expect(deployment.i.spec.template.spec.containers[0].ports).toContainEqual({ name: 'relay', containerPort: 587, protocol: 'TCP' });
  });

  it('kubernetes: NetworkPolicy lets nodes reach the gateways on the relay port only, and nobody else reach it', () => {
    const cap = captures.get('kubernetes')!;
    const policies = inputsOf(cap, 'kubernetes:networking.k8s.io/v1:NetworkPolicy');
    const of = (role: string) => policies.find(({ i }) => i.spec.podSelector.matchLabels['app.kubernetes.io/component'] === role)!.i.spec;
    const selects = (peer: any, role: string) => peer.podSelector?.matchLabels?.['app.kubernetes.io/component'] === role;
    const gw = of('gateway');
    const relayIngress = gw.ingress.filter((r: any) => r.ports?.some((p: any) => p.port === 587));
    expect(relayIngress).toHaveLength(1);
    expect(relayIngress[0].from).toHaveLength(1);
    expect(selects(relayIngress[0].from[0], 'node')).toBe(true);
    expect(relayIngress[0].ports).toEqual([{ protocol: 'TCP', port: 587 }]);
    // The public rule (no `from`) admits SMTP 25, not the relay.
    const open = gw.ingress.filter((r: any) => !r.from);
    expect(open.flatMap((r: any) => r.ports.map((p: any) => p.port))).toEqual([25]);
    const toGateways = of('node').egress.filter((r: any) => r.to?.some((p: any) => selects(p, 'gateway')));
    expect(toGateways).toEqual([{ to: [expect.anything()], ports: [{ protocol: 'TCP', port: 587 }] }]);
    // Proxies never reach the relay.
    expect(of('proxy').egress.some((r: any) => r.to?.some((p: any) => selects(p, 'gateway')))).toBe(false);
  });
});

/** Inputs with every secret wrapper replaced by a marker: what a state file shows in clear. */
function stripSecrets(v: unknown): unknown {
  if (isSecretValue(v)) return '[secret]';
  if (Array.isArray(v)) return v.map(stripSecrets);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, stripSecrets(x)]));
  return v;
}
