import { z } from 'zod';
import {
  FieldProblemsError,
  SpamFilter,
  dnsLabel,
  domainName,
  hostPort,
  ipv4,
  ipv4Cidr,
  ipv4ToInt,
  problemsFromZod,
  strict,
} from '../mail-runtime/config';

/**
 * The topology vocabulary: what an operator writes (a YAML spec file, or Pulumi
 * stack config) to describe a mail cluster or a geo-redundant failover pair.
 *
 * Everything a small install can default is defaulted, so the smallest valid
 * cluster spec is `{ name, platform: { kind: local }, domains: [...] }`.
 * Policies (policies/) hold `environment: production` to the HA minimums; the
 * schema itself only rejects what can never work.
 */

/** A topology spec (or a renderer's input derived from it) that cannot be deployed; names every bad field. */
export class SpecError extends FieldProblemsError {}

export const ENVIRONMENTS = ['production', 'staging', 'development'] as const;
export const PLATFORM_KINDS = ['kubernetes', 'docker', 'proxmox', 'vsphere', 'local'] as const;
export type PlatformKind = (typeof PLATFORM_KINDS)[number];
export const ROLES = ['hub', 'node', 'gateway', 'proxy'] as const;
export type Role = (typeof ROLES)[number];

// ---------------------------------------------------------------------------
// Sizes

/** Size of one member of a role. Defaults fit a small install; policies set production floors. */
function roleSize(defaults: { count: number; cpu: number; memoryMiB: number; diskGiB: number }, minCount = 1) {
  return strict({
    /** How many members of this role. */
    count: z.number().int().min(minCount, `at least ${minCount}`).max(1000).default(defaults.count),
    /** vCPUs (VMs) or CPU request/limit in cores (containers). */
    cpu: z.number().positive().max(256).default(defaults.cpu),
    /** Memory in MiB. */
    memoryMiB: z.number().int().min(128, 'at least 128 MiB').max(4 * 1024 * 1024).default(defaults.memoryMiB),
    /** Root disk in GiB (VMs) or ephemeral storage (containers). Mail itself lives on shared storage. */
    diskGiB: z.number().int().min(1).max(65536).default(defaults.diskGiB),
  }).prefault({});
}

// Role defaults: one hub, two nodes (so a node can fail), one gateway, one proxy.
const hubs = roleSize({ count: 1, cpu: 1, memoryMiB: 1024, diskGiB: 10 });
const nodes = roleSize({ count: 2, cpu: 2, memoryMiB: 2048, diskGiB: 20 });
const gateways = roleSize({ count: 1, cpu: 1, memoryMiB: 1024, diskGiB: 20 });
const proxies = roleSize({ count: 1, cpu: 1, memoryMiB: 512, diskGiB: 10 });

// ---------------------------------------------------------------------------
// Platforms

const kubernetesPlatform = strict({
  kind: z.literal('kubernetes'),
  /** Namespace to create. Defaults to `mailfleet-<cluster name>` so two stacks never collide. */
  namespace: dnsLabel.optional(),
  /** Kubernetes context in the kubeconfig; the ambient one when absent. */
  context: z.string().min(1).optional(),
  /** Service type of the client-facing Service. */
  serviceType: z.enum(['LoadBalancer', 'NodePort']).default('LoadBalancer'),
  /** Topology keys the pods are spread over (hosts first, then zones). */
  spreadKeys: z.array(z.string().min(1)).min(1).default(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']),
  /** Extra labels on every object. */
  labels: z.record(z.string(), z.string()).default({}),
});

const dockerPlatform = strict({
  kind: z.literal('docker'),
  /**
   * Docker hosts (`unix:///var/run/docker.sock`, `ssh://user@host`). Members are
   * spread round-robin over them; production wants more than one.
   */
  hosts: z.array(z.string().min(1)).min(1).default(['unix:///var/run/docker.sock']),
  /** Name of the bridge network to create (per host). */
  network: dnsLabel.optional(),
  /** Host port the load balancer publishes each client port on; 0 keeps the container port. */
  publishOffset: z.number().int().min(0).max(60000).default(0),
});

/** Static addressing for VM platforms: role blocks keep addresses stable when a role scales. */
const vmNetwork = strict({
  /** Subnet the VMs live in. */
  cidr: ipv4Cidr,
  gateway: ipv4,
  /** First address of the block mailfleet allocates from (see render.ts for the role offsets). */
  firstAddress: ipv4,
  dns: z.array(ipv4).min(1).default(['1.1.1.1']),
  /** Search domain written into the guests. */
  searchDomain: domainName.optional(),
});

const proxmoxPlatform = strict({
  kind: z.literal('proxmox'),
  /** API endpoint, e.g. https://pve1.example.net:8006/ */
  endpoint: z.url({ error: 'must be the Proxmox API URL, e.g. https://pve.example.net:8006/' }),
  /** Accept the API's self-signed certificate (lab clusters). */
  insecure: z.boolean().default(false),
  /** Proxmox nodes to spread VMs over (round robin). */
  nodes: z.array(z.string().min(1)).min(1, 'name at least one Proxmox node'),
  /** VM id of the cloud-init capable template to clone. */
  templateVmId: z.number().int().min(100),
  /** Node that holds the template (defaults to the first of `nodes`). */
  templateNode: z.string().min(1).optional(),
  /** Datastore for VM disks. */
  datastore: z.string().min(1).default('local-lvm'),
  /** Datastore with the `snippets` content type, where cloud-init user data is uploaded. */
  snippetsDatastore: z.string().min(1).default('local'),
  bridge: z.string().min(1).default('vmbr0'),
  vlan: z.number().int().min(1).max(4094).optional(),
  /** First VM id; role blocks are allocated from here like addresses. */
  firstVmId: z.number().int().min(100).default(4000),
  network: vmNetwork,
  /** Name of the HA group to create for the cluster's VMs. */
  haGroup: z.string().min(1).optional(),
});

const vspherePlatform = strict({
  kind: z.literal('vsphere'),
  /** vCenter host name. */
  server: z.string().min(1),
  allowUnverifiedSsl: z.boolean().default(false),
  datacenter: z.string().min(1),
  /** Compute cluster that gets the DRS anti-affinity rules. */
  cluster: z.string().min(1),
  datastore: z.string().min(1),
  /** Port group / network name. */
  network: z.string().min(1),
  /** Name of the VM template (with cloud-init and VMware tools) to clone. */
  template: z.string().min(1),
  /** VM folder; the datacenter root when absent. */
  folder: z.string().min(1).optional(),
  addresses: vmNetwork,
});

const localPlatform = strict({
  kind: z.literal('local'),
  /** Folder for the cluster: shared storage, configs, logs, cluster.json. */
  dir: z.string().min(1).default('.mailfleet'),
  /** Bind address. Loopback by default: the embedded default is for this machine only. */
  host: z.string().min(1).default('127.0.0.1'),
});

export const Platform = z.discriminatedUnion('kind', [
  kubernetesPlatform,
  dockerPlatform,
  proxmoxPlatform,
  vspherePlatform,
  localPlatform,
]);
export type Platform = z.infer<typeof Platform>;
export type PlatformOf<K extends PlatformKind> = Extract<Platform, { kind: K }>;

// ---------------------------------------------------------------------------
// Storage, load balancer, TLS, filters

const backup = strict({
  /** Cron schedule of snapshots/backups of the shared storage. */
  schedule: z.string().min(1),
  /** How many to keep. */
  retain: z.number().int().min(1).default(7),
  /** Where backups go (snapshot class, PBS storage, NFS export...). */
  target: z.string().min(1).optional(),
});

const sizeGiB = z.number().int().min(1).max(1024 * 1024);

export const Storage = z.discriminatedUnion('kind', [
  strict({
    kind: z.literal('nfs'),
    server: z.string().min(1),
    path: z.string().startsWith('/', 'an NFS export path starts with /'),
    /** Mount options; `hard` keeps writes from being silently dropped on a flaky server. */
    options: z.string().default('nfs4,hard,timeo=600,retrans=2,noatime'),
    sizeGiB,
    backup: backup.optional(),
  }),
  strict({
    kind: z.literal('pvc-rwx'),
    /** A storage class that provides ReadWriteMany (CephFS, NFS provisioner, EFS, Azure Files...). */
    storageClass: z.string().min(1),
    sizeGiB,
    backup: backup.optional(),
  }),
  strict({
    kind: z.literal('docker-volume'),
    /** Back the volume by NFS (local driver NFS options) so several Docker hosts share it. */
    nfs: strict({ server: z.string().min(1), path: z.string().startsWith('/'), options: z.string().default('nfsvers=4,hard') }).optional(),
    sizeGiB,
    backup: backup.optional(),
  }),
  strict({
    kind: z.literal('local-dir'),
    /** Folder on this machine; relative paths are inside the local platform's dir. */
    path: z.string().min(1).default('storage'),
    sizeGiB: sizeGiB.default(10),
    backup: backup.optional(),
  }),
]);
export type Storage = z.infer<typeof Storage>;

export const LoadBalancer = z.discriminatedUnion('kind', [
  strict({
    kind: z.literal('haproxy'),
    /** HAProxy members (VMs or containers); two with a VIP for HA. */
    replicas: z.number().int().min(1).max(8).default(2),
    /** Virtual IP held by keepalived on VM platforms. */
    vip: ipv4.optional(),
    cpu: z.number().positive().default(1),
    memoryMiB: z.number().int().min(128).default(512),
  }),
  strict({
    kind: z.literal('kubernetes-service'),
    annotations: z.record(z.string(), z.string()).default({}),
    /** Pin the external address if the cloud supports it. */
    loadBalancerIP: ipv4.optional(),
  }),
  strict({
    kind: z.literal('external'),
    /** Address clients use; the operator's own load balancer forwards to the proxies and gateways. */
    address: z.string().min(1),
  }),
]);
export type LoadBalancer = z.infer<typeof LoadBalancer>;

export const Tls = z.discriminatedUnion('mode', [
  strict({
    mode: z.literal('self-signed'),
    /** Extra names in the certificate; the cluster hostname is always included. */
    hostnames: z.array(z.string().min(1)).default([]),
  }),
  strict({
    mode: z.literal('provided'),
    /** PEM certificate chain. Public. */
    certificatePem: z.string().includes('BEGIN CERTIFICATE', { message: 'must be a PEM certificate' }),
    /** Name of the Pulumi secret config key that holds the PEM private key (never inline in a spec file). */
    privateKeySecret: z.string().min(1).default('tlsPrivateKey'),
  }),
  strict({
    mode: z.literal('cert-manager'),
    issuer: z.string().min(1),
    issuerKind: z.enum(['Issuer', 'ClusterIssuer']).default('ClusterIssuer'),
  }),
]);
export type Tls = z.infer<typeof Tls>;

export const Filters = strict({
  antivirus: strict({
    kind: z.literal('clamd'),
    address: hostPort,
    /** What to do when clamd cannot be reached: temp-fail keeps mail safe (the sender retries). */
    onError: z.enum(['tempfail', 'accept']).default('tempfail'),
  }).optional(),
  spam: SpamFilter.optional(),
  dkim: strict({
    selector: dnsLabel,
    /** Name of the Pulumi secret config key holding the PEM private key; generated when absent. */
    privateKeySecret: z.string().min(1).optional(),
  }).optional(),
}).prefault({});
export type Filters = z.infer<typeof Filters>;

export const Domain = strict({
  name: domainName,
  /** Spread this domain's mailboxes over all nodes (large domains) or keep them on one node. */
  split: z.boolean().default(false),
  quota: strict({
    /** Per-mailbox storage quota. */
    mailboxMiB: z.number().int().min(1).default(2048),
    /** Per-mailbox message count quota; unlimited when absent. */
    messages: z.number().int().min(1).optional(),
    /** Mailboxes this domain may hold (used for capacity planning and enforced by the hub). */
    maxUsers: z.number().int().min(1).default(100),
  }).prefault({}),
});
export type Domain = z.infer<typeof Domain>;

export const Runtime = strict({
  /** Container image for kubernetes/docker, e.g. ghcr.io/acme/mailfleet:0.1.0 or …@sha256:… */
  image: z.string().min(1).default('ghcr.io/mailfleet/mailfleet:0.1.0'),
  /** Build the image from the repository's Dockerfile (docker platform) instead of pulling `image`. */
  build: z.boolean().default(false),
  /** Tarball of the runtime for VM platforms (npm pack output or a registry tarball URL). */
  packageUrl: z.url().default('https://registry.npmjs.org/mailfleet/-/mailfleet-0.1.0.tgz'),
  /** Node.js major version installed in VMs. */
  nodeMajor: z.number().int().min(20).default(20),
}).prefault({});
export type Runtime = z.infer<typeof Runtime>;

const Gateway = strict({
  /**
   * Networks allowed to relay without authentication (RFC 1918 only; an empty
   * list is the safe default: only authenticated submission relays).
   */
  relayNetworks: z.array(ipv4Cidr).default([]),
  /** Send outbound mail through this relay instead of direct MX delivery. */
  smarthost: hostPort.optional(),
  /** Largest message accepted (bytes). */
  maxMessageBytes: z.number().int().min(1024).default(50 * 1024 * 1024),
}).prefault({});

const Admin = strict({
  /** Expose the hub's admin API through the public load balancer. Off by default and rejected by policy. */
  public: z.boolean().default(false),
  /** Networks allowed to reach the admin API when it is exposed internally. */
  allowedCidrs: z.array(ipv4Cidr).default([]),
}).prefault({});

const Security = strict({
  /**
   * Where plaintext (non-TLS) LOGIN/AUTH is accepted: `never`, only from
   * `loopback`, or `always` (not for production; policies reject it).
   * Default: `loopback` on the local platform, `never` elsewhere.
   */
  plaintextAuth: z.enum(['never', 'loopback', 'always']).optional(),
}).prefault({});

export const Site = strict({
  name: dnsLabel,
  /** Free text: region, data centre. */
  location: z.string().min(1).optional(),
});

// ---------------------------------------------------------------------------
// The two topologies

const commonFields = {
  name: dnsLabel,
  environment: z.enum(ENVIRONMENTS).default('development'),
  /** Public host name of the service (MX target, IMAP/SMTP host, certificate subject). */
  hostname: domainName.default('mail.example.test'),
  domains: z.array(Domain).min(1, 'host at least one domain'),
  tls: Tls.default({ mode: 'self-signed', hostnames: [] }),
  filters: Filters,
  runtime: Runtime,
  gateway: Gateway,
  admin: Admin,
  security: Security,
};

const clusterShape = {
  kind: z.literal('cluster').default('cluster'),
  ...commonFields,
  platform: Platform,
  /** Sites the cluster spans (one for a single-site cluster). */
  sites: z.array(Site).min(1).default([{ name: 'main' }]),
  hubs,
  nodes,
  gateways,
  proxies,
  storage: Storage.optional(),
  loadBalancer: LoadBalancer.optional(),
};

/** Storage and load-balancer kinds each platform can provide. */
export const PLATFORM_STORAGE: Record<PlatformKind, readonly Storage['kind'][]> = {
  kubernetes: ['pvc-rwx', 'nfs'],
  docker: ['docker-volume', 'nfs'],
  proxmox: ['nfs'],
  vsphere: ['nfs'],
  local: ['local-dir'],
};
export const PLATFORM_LOAD_BALANCERS: Record<PlatformKind, readonly LoadBalancer['kind'][]> = {
  kubernetes: ['kubernetes-service', 'external'],
  docker: ['haproxy', 'external'],
  proxmox: ['haproxy', 'external'],
  vsphere: ['haproxy', 'external'],
  local: ['external'],
};

function defaultStorage(kind: PlatformKind): Storage | undefined {
  switch (kind) {
    case 'local':
      return { kind: 'local-dir', path: 'storage', sizeGiB: 10 };
    case 'docker':
      return { kind: 'docker-volume', sizeGiB: 50 };
    default:
      return undefined; // Kubernetes, Proxmox and vSphere need the operator to name real storage.
  }
}

function defaultLoadBalancer(kind: PlatformKind): LoadBalancer {
  switch (kind) {
    case 'kubernetes':
      return { kind: 'kubernetes-service', annotations: {} };
    case 'local':
      return { kind: 'external', address: '127.0.0.1' };
    default:
      return { kind: 'haproxy', replicas: 2, cpu: 1, memoryMiB: 512 };
  }
}

const ClusterObject = strict(clusterShape);

export const ClusterSpec = ClusterObject.superRefine((spec, ctx) => {
  const kind = spec.platform.kind;
  const storage = spec.storage ?? defaultStorage(kind);
  if (!storage) {
    ctx.addIssue({ code: 'custom', path: ['storage'], message: `required on ${kind}: one of ${PLATFORM_STORAGE[kind].join(', ')}` });
  } else if (!PLATFORM_STORAGE[kind].includes(storage.kind)) {
    ctx.addIssue({ code: 'custom', path: ['storage', 'kind'], message: `"${storage.kind}" is not available on ${kind}; use one of ${PLATFORM_STORAGE[kind].join(', ')}` });
  }
  if (spec.loadBalancer && !PLATFORM_LOAD_BALANCERS[kind].includes(spec.loadBalancer.kind)) {
    ctx.addIssue({ code: 'custom', path: ['loadBalancer', 'kind'], message: `"${spec.loadBalancer.kind}" is not available on ${kind}; use one of ${PLATFORM_LOAD_BALANCERS[kind].join(', ')}` });
  }
  checkUniqueDomains(spec.domains, ctx);
  if (spec.tls.mode === 'cert-manager' && kind !== 'kubernetes') {
    ctx.addIssue({ code: 'custom', path: ['tls', 'mode'], message: 'cert-manager is only available on kubernetes; use self-signed or provided' });
  }
  if (kind === 'proxmox' || kind === 'vsphere') {
    const net = kind === 'proxmox' ? spec.platform.network : spec.platform.addresses;
    checkAddressPlan(net, spec, ctx, kind === 'proxmox' ? ['platform', 'network'] : ['platform', 'addresses']);
  }
}).transform((spec) => ({
  ...spec,
  storage: (spec.storage ?? defaultStorage(spec.platform.kind)) as Storage,
  loadBalancer: spec.loadBalancer ?? defaultLoadBalancer(spec.platform.kind),
  // The embedded local cluster is for this machine: plaintext on loopback is
  // what lets a developer try it with any client. Everywhere else: TLS only.
  security: { plaintextAuth: spec.security.plaintextAuth ?? (spec.platform.kind === 'local' ? 'loopback' : 'never') },
}));
export type ClusterSpec = z.output<typeof ClusterSpec>;
export type ClusterSpecInput = z.input<typeof ClusterSpec>;

function checkUniqueDomains(domains: readonly { name: string }[], ctx: z.RefinementCtx) {
  const seen = new Set<string>();
  domains.forEach((d, i) => {
    if (seen.has(d.name)) ctx.addIssue({ code: 'custom', path: ['domains', i, 'name'], message: `domain "${d.name}" is listed twice` });
    seen.add(d.name);
  });
}

/** Role blocks inside a VM subnet; see render.ts. Exported so render and the check agree. */
export const VM_ADDRESS_BLOCKS = { hub: 0, loadBalancer: 5, gateway: 10, proxy: 30, node: 50 } as const;
export const VM_ADDRESS_BLOCK_SIZE = { hub: 5, loadBalancer: 5, gateway: 20, proxy: 20, node: Infinity } as const;

function checkAddressPlan(
  net: { cidr: string; firstAddress: string },
  spec: { hubs: { count: number }; nodes: { count: number }; gateways: { count: number }; proxies: { count: number } },
  ctx: z.RefinementCtx,
  path: (string | number)[],
) {
  const [base, bitsText] = net.cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(bitsText));
  const first = ipv4ToInt(net.firstAddress) - ipv4ToInt(base);
  if (first <= 0 || first >= size - 1) {
    ctx.addIssue({ code: 'custom', path: [...path, 'firstAddress'], message: `must be a host address inside ${net.cidr}` });
    return;
  }
  for (const role of ['hub', 'gateway', 'proxy'] as const) {
    const count = spec[`${role === 'proxy' ? 'proxies' : `${role}s`}` as 'hubs' | 'gateways' | 'proxies'].count;
    if (count > VM_ADDRESS_BLOCK_SIZE[role]) {
      ctx.addIssue({ code: 'custom', path: [role === 'proxy' ? 'proxies' : `${role}s`, 'count'], message: `at most ${VM_ADDRESS_BLOCK_SIZE[role]} ${role}s fit the VM address plan` });
    }
  }
  const last = first + VM_ADDRESS_BLOCKS.node + spec.nodes.count - 1;
  if (last >= size - 1) {
    ctx.addIssue({ code: 'custom', path: [...path, 'cidr'], message: `${net.cidr} from ${net.firstAddress} has no room for ${spec.nodes.count} nodes (nodes start at firstAddress + ${VM_ADDRESS_BLOCKS.node})` });
  }
}

const failoverSite = strict({
  site: Site,
  platform: Platform,
  storage: Storage,
  /** Size of the single all-roles member at this site. */
  member: roleSize({ count: 1, cpu: 2, memoryMiB: 4096, diskGiB: 40 }),
  loadBalancer: LoadBalancer.optional(),
});

export const Fencing = strict({
  /** Take the storage lease from the primary before the standby writes (always on for automatic failover). */
  storageLease: z.boolean().default(true),
  /** Power the primary off through its platform API before starting the standby (STONITH). */
  powerOff: z.boolean().default(true),
});

export const FailoverPairSpec = strict({
  kind: z.literal('failover-pair'),
  ...commonFields,
  primary: failoverSite,
  standby: failoverSite,
  failover: strict({
    mode: z.enum(['automatic', 'manual']).default('manual'),
    /** How often the controller at the standby site probes the primary. */
    probeIntervalSeconds: z.number().int().min(1).max(3600).default(10),
    /** Consecutive failed probes before failing over. */
    failureThreshold: z.number().int().min(1).max(100).default(6),
    fencing: Fencing.optional(),
    /** Storage replication from primary to standby (the standby is cold: its storage is a replica). */
    replication: z.enum(['storage', 'rsync', 'none']).default('storage'),
    /** Keep the standby stopped (cold) until promotion. */
    standbyState: z.enum(['stopped', 'running']).default('stopped'),
  }).prefault({}),
}).superRefine((spec, ctx) => {
  checkUniqueDomains(spec.domains, ctx);
  if (spec.primary.site.name === spec.standby.site.name) {
    ctx.addIssue({ code: 'custom', path: ['standby', 'site', 'name'], message: 'the standby must be in another site than the primary' });
  }
  for (const side of ['primary', 'standby'] as const) {
    const kind = spec[side].platform.kind;
    if (!PLATFORM_STORAGE[kind].includes(spec[side].storage.kind)) {
      ctx.addIssue({ code: 'custom', path: [side, 'storage', 'kind'], message: `"${spec[side].storage.kind}" is not available on ${kind}; use one of ${PLATFORM_STORAGE[kind].join(', ')}` });
    }
    if (spec[side].member.count !== 1) {
      ctx.addIssue({ code: 'custom', path: [side, 'member', 'count'], message: 'a failover site runs exactly 1 all-roles member' });
    }
  }
  if (spec.failover.mode === 'automatic' && !spec.failover.fencing) {
    ctx.addIssue({ code: 'custom', path: ['failover', 'fencing'], message: 'automatic failover needs fencing configured (storageLease and/or powerOff) so the old primary cannot keep writing' });
  }
}).transform((spec) => ({ ...spec, security: { plaintextAuth: spec.security.plaintextAuth ?? 'never' } }));
export type FailoverPairSpec = z.output<typeof FailoverPairSpec>;
export type FailoverPairSpecInput = z.input<typeof FailoverPairSpec>;

/** Either topology; a spec file without `kind` is a cluster. */
export type TopologySpec = ClusterSpec | FailoverPairSpec;

function parseWith<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (!result.success) throw new SpecError(what, problemsFromZod(result.error));
  return result.data;
}

/** Validates a cluster spec; throws SpecError listing every bad field. */
export function parseClusterSpec(input: unknown): ClusterSpec {
  return parseWith(ClusterSpec, input, 'cluster spec');
}

/** Validates a failover pair spec; throws SpecError listing every bad field. */
export function parseFailoverPairSpec(input: unknown): FailoverPairSpec {
  return parseWith(FailoverPairSpec, input, 'failover pair spec');
}

/** Validates either topology (dispatch on `kind`, default `cluster`). */
export function parseTopologySpec(input: unknown): TopologySpec {
  if (input && typeof input === 'object' && !Array.isArray(input) && (input as { kind?: unknown }).kind === 'failover-pair') {
    return parseFailoverPairSpec(input);
  }
  if (input && typeof input === 'object' && !Array.isArray(input) && 'kind' in input && (input as { kind?: unknown }).kind !== 'cluster') {
    throw new SpecError('topology spec', [{ path: 'kind', message: `must be "cluster" or "failover-pair" (got ${JSON.stringify((input as { kind?: unknown }).kind)})` }]);
  }
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    throw new SpecError('topology spec', [{ path: '(top level)', message: 'must be a mapping with at least name, platform and domains' }]);
  }
  return parseClusterSpec(input);
}

/** Total mailbox capacity the domains may need, in GiB (users × quota). */
export function plannedMailGiB(domains: readonly Domain[]): number {
  return domains.reduce((sum, d) => sum + (d.quota.maxUsers * d.quota.mailboxMiB) / 1024, 0);
}

