import { MailCluster } from '../../components/mail-cluster';
import { credentialsFromStackConfig } from '../../components/platforms';
import type { ClusterSpecInput, PlatformKind } from '../../components/spec';
import { installCapture, unwrapSecrets, type Capture, type CapturedResource } from '../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../components/offline/mock-outputs';
import { platformInvokeResult, platformMockOutputs } from '../../components/offline/platform-mocks';
import { runPolicies, type PolicyPackConfig, type PolicyResult } from '../../cli/preview/policy-gate';

/**
 * Fixtures for the policy tests: a compliant production spec per platform,
 * a capture harness configured like `npm run preview`, and helpers to build
 * violations (a modified spec captured again, or captured resources edited
 * into shapes a valid spec cannot produce).
 */

export type DeployKind = Exclude<PlatformKind, 'local'>;

const domains = [{ name: 'example.com', quota: { mailboxMiB: 2048, maxUsers: 500 } }];
const backup = { schedule: '0 2 * * *', retain: 14 };
const vmNet = { cidr: '10.40.0.0/24', gateway: '10.40.0.1', firstAddress: '10.40.0.10' };
const common = {
  environment: 'production' as const,
  hostname: 'mail.example.com',
  domains,
  hubs: { count: 2 },
  nodes: { count: 2 },
  gateways: { count: 2 },
  proxies: { count: 2 },
  runtime: {
    image: 'ghcr.io/mailfleet/mailfleet:0.1.0',
    packageUrl: 'https://registry.npmjs.org/mailfleet/-/mailfleet-0.1.0.tgz',
    // What a release's SHA256SUMS lists (a made-up value: nothing is downloaded here).
    sha256: '9d4e1f2a3b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f50',
  },
  // clamd and rspamd beside the gateways: every policy must accept what they deploy, too.
  filters: { antivirus: { kind: 'clamd' as const, deploy: true }, spam: { kind: 'rspamd' as const, deploy: true } },
};

/** A production cluster spec on `kind` that every policy accepts. */
export function compliantSpec(kind: DeployKind): ClusterSpecInput {
  switch (kind) {
    case 'kubernetes':
      return {
        ...common,
        name: 'mail-k8s',
        platform: { kind: 'kubernetes', namespace: 'mail-k8s' },
        storage: { kind: 'pvc-rwx', storageClass: 'cephfs', sizeGiB: 2000, backup },
        tls: { mode: 'cert-manager', issuer: 'letsencrypt-prod' },
        filters: { ...common.filters, dkim: { selector: 'mail2026' } },
      };
    case 'docker':
      return {
        ...common,
        name: 'mail-dock',
        platform: { kind: 'docker', hosts: ['ssh://deploy@docker1.example.com', 'ssh://deploy@docker2.example.com'] },
        storage: { kind: 'docker-volume', nfs: { server: '10.30.0.5', path: '/export/mail' }, sizeGiB: 2000, backup },
        loadBalancer: { kind: 'haproxy', replicas: 2 },
      };
    case 'proxmox':
      return {
        ...common,
        name: 'mail-px',
        // A shared snippets datastore: one user-data upload per VM (a node-local one is copied to every node).
        platform: { kind: 'proxmox', endpoint: 'https://pve1.example.com:8006/', nodes: ['pve1', 'pve2', 'pve3'], templateVmId: 9000, snippetsDatastore: 'cephfs', network: vmNet },
        storage: { kind: 'nfs', server: '10.40.0.5', path: '/export/mail', sizeGiB: 2000, backup },
        loadBalancer: { kind: 'haproxy', replicas: 2, vip: '10.40.0.8' },
      };
    case 'vsphere':
      return {
        ...common,
        name: 'mail-vs',
        platform: {
          kind: 'vsphere',
          server: 'vcenter.example.com',
          datacenter: 'dc1',
          cluster: 'compute-a',
          datastore: 'vsan-a',
          network: 'mail-pg',
          template: 'debian-12-cloudinit',
          addresses: vmNet,
        },
        storage: { kind: 'nfs', server: '10.40.0.5', path: '/export/mail', sizeGiB: 2000, backup },
        loadBalancer: { kind: 'haproxy', replicas: 2, vip: '10.40.0.8' },
      };
  }
}

/** Stack config the platform's provider credentials come from (secrets, as `pulumi config set --secret` would keep them). */
const PROVIDER_CONFIG: Record<DeployKind, { config: Record<string, string>; secretKeys: string[] }> = {
  kubernetes: { config: {}, secretKeys: [] },
  docker: { config: {}, secretKeys: [] },
  proxmox: { config: { 'proxmoxve:apiToken': 'mailfleet@pve!deploy=00000000-0000-0000-0000-000000000000' }, secretKeys: ['proxmoxve:apiToken'] },
  vsphere: { config: { 'vsphere:user': 'mailfleet@vsphere.local', 'vsphere:password': 'vsphere-password-for-tests' }, secretKeys: ['vsphere:password'] },
};

/**
 * Installs the capture harness for one platform (once per test file) and
 * returns `capture(spec)`, which registers a MailCluster offline.
 */
export function clusterHarness(kind: DeployKind) {
  const { config, secretKeys } = PROVIDER_CONFIG[kind];
  const run = installCapture({
    project: 'mailfleet',
    stack: `policies-${kind}`,
    config,
    secretKeys,
    outputsFor: composeMockOutputs(commonMockOutputs, platformMockOutputs),
    invokeResult: platformInvokeResult,
  });
  return async function capture(spec: ClusterSpecInput): Promise<Capture> {
    // As a stack program does: the provider credentials come from stack config (components read none).
    const cap = await run(() => new MailCluster(spec.name as string, { spec, credentials: credentialsFromStackConfig(kind) }));
    if (cap.resources.length < 10) throw new Error(`capture recorded only ${cap.resources.length} resources: mocks not installed?`);
    return cap;
  };
}

/** Deep copy of a spec with changes applied (plain data: JSON is enough). */
export function modify(spec: ClusterSpecInput, change: (s: Record<string, any>) => void): ClusterSpecInput {
  const copy = JSON.parse(JSON.stringify(spec)) as Record<string, any>;
  change(copy);
  return copy as ClusterSpecInput;
}

/** Names of the violated policies, sorted and de-duplicated. */
export function violated(results: readonly PolicyResult[]): string[] {
  return [...new Set(results.map((r) => r.policyName))].sort();
}

export async function check(cap: Pick<Capture, 'resources'>, config: PolicyPackConfig = {}): Promise<PolicyResult[]> {
  return runPolicies(cap, config, { stack: 'test' });
}

/** A copy of a capture with `edit` applied to the resources `pick` selects (both inputs and outputs). */
export function editResources(
  cap: Pick<Capture, 'resources'>,
  pick: (r: CapturedResource) => boolean,
  edit: (props: Record<string, any>, r: CapturedResource) => void,
): { resources: CapturedResource[] } {
  let edited = 0;
  const resources = cap.resources.map((r) => {
    if (!pick(r)) return r;
    edited++;
    const copy: CapturedResource = structuredClone(r);
    edit(copy.inputs as Record<string, any>, copy);
    edit(copy.outputs as Record<string, any>, copy);
    return copy;
  });
  if (edited === 0) throw new Error('editResources: no resource matched');
  return { resources };
}

/** Removes the secret marker of a top-level property (inputs and outputs), as a program that forgot pulumi.secret would send it. */
export function declassify(props: Record<string, any>, key: string): void {
  if (key in props) props[key] = unwrapSecrets(props[key]);
}

/** A captured resource built by hand, for shapes no valid spec produces. */
export function resource(args: { type: string; name: string; parent?: string; custom?: boolean; props?: Record<string, unknown>; stack?: string; parentType?: string; provider?: string; dependsOn?: string[] }): CapturedResource {
  const stack = args.stack ?? 'test';
  const qualified = args.parentType ? `${args.parentType}$${args.type}` : args.type;
  return {
    urn: `urn:pulumi:${stack}::mailfleet::${qualified}::${args.name}`,
    type: args.type,
    name: args.name,
    parent: args.parent,
    custom: args.custom ?? !args.type.startsWith('mailfleet:'),
    inputs: args.props ?? {},
    outputs: args.props ?? {},
    options: { provider: args.provider, dependsOn: args.dependsOn ?? [], aliases: 0, protect: false },
  };
}

export interface SpecCase {
  policy: string;
  what: string;
  change: (s: Record<string, any>) => void;
}

/** Spec changes that break exactly one policy, valid specs all (the schema accepts them; only policy rejects them). */
export function specCases(kind: DeployKind): SpecCase[] {
  const cases: SpecCase[] = [
    { policy: 'ha-minimums', what: 'one node in production', change: (s) => (s.nodes.count = 1) },
    { policy: 'ha-minimums', what: 'one gateway in production', change: (s) => (s.gateways.count = 1) },
    { policy: 'tls-everywhere', what: 'plaintext auth from anywhere', change: (s) => (s.security = { plaintextAuth: 'always' }) },
    { policy: 'no-open-relay', what: 'relaying for the internet', change: (s) => (s.gateway = { relayNetworks: ['10.0.0.0/8', '0.0.0.0/0'] }) },
    { policy: 'admin-api-private', what: 'admin API on the public load balancer', change: (s) => (s.admin = { public: true }) },
    { policy: 'storage-capacity', what: 'storage smaller than users × quota', change: (s) => (s.storage.sizeGiB = 100) },
    { policy: 'storage-backups', what: 'no backups', change: (s) => delete s.storage.backup },
    { policy: 'inbound-antivirus', what: 'inbound mail in production with no antivirus', change: (s) => delete s.filters.antivirus },
  ];
  switch (kind) {
    case 'kubernetes':
      cases.push(
        { policy: 'failure-domains', what: 'pods spread over a rack label only', change: (s) => (s.platform.spreadKeys = ['example.com/rack']) },
        { policy: 'pinned-runtime-image', what: 'runtime image :latest', change: (s) => (s.runtime.image = 'ghcr.io/mailfleet/mailfleet:latest') },
      );
      break;
    case 'docker':
      cases.push(
        { policy: 'failure-domains', what: 'one Docker host', change: (s) => (s.platform.hosts = ['ssh://deploy@docker1.example.com']) },
        { policy: 'pinned-runtime-image', what: 'runtime image without a tag', change: (s) => (s.runtime.image = 'ghcr.io/mailfleet/mailfleet') },
        { policy: 'ha-minimums', what: 'one HAProxy', change: (s) => (s.loadBalancer.replicas = 1) },
      );
      break;
    case 'proxmox':
      cases.push(
        { policy: 'failure-domains', what: 'one Proxmox node', change: (s) => (s.platform.nodes = ['pve1']) },
        { policy: 'pinned-runtime-image', what: 'runtime package "latest"', change: (s) => (s.runtime.packageUrl = 'https://downloads.example.com/mailfleet-latest.tgz') },
        { policy: 'verified-runtime-package', what: 'runtime package without runtime.sha256', change: (s) => delete s.runtime.sha256 },
        { policy: 'resource-floors', what: 'node VMs with 1 GiB', change: (s) => (s.nodes.memoryMiB = 1024) },
        { policy: 'ha-minimums', what: 'one HAProxy VM', change: (s) => (s.loadBalancer = { kind: 'haproxy', replicas: 1 }) },
      );
      break;
    case 'vsphere':
      cases.push(
        { policy: 'pinned-runtime-image', what: 'runtime package without a version', change: (s) => (s.runtime.packageUrl = 'https://downloads.example.com/mailfleet.tgz') },
        { policy: 'verified-runtime-package', what: 'runtime package without runtime.sha256', change: (s) => delete s.runtime.sha256 },
        { policy: 'resource-floors', what: 'hub VMs with 512 MiB', change: (s) => (s.hubs.memoryMiB = 512) },
        { policy: 'ha-minimums', what: 'one HAProxy VM', change: (s) => (s.loadBalancer = { kind: 'haproxy', replicas: 1 }) },
      );
      break;
  }
  return cases;
}
