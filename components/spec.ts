import { z } from 'zod';
import {
  ClusterLimits,
  FieldProblemsError,
  MAX_HUB_URLS,
  SpamFilter,
  dnsLabel,
  domainName,
  hostPort,
  intToIpv4,
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
type Environment = (typeof ENVIRONMENTS)[number];
export const PLATFORM_KINDS = ['kubernetes', 'docker', 'proxmox', 'vsphere', 'local'] as const;
export type PlatformKind = (typeof PLATFORM_KINDS)[number];
export const ROLES = ['hub', 'node', 'gateway', 'proxy'] as const;
export type Role = (typeof ROLES)[number];

// ---------------------------------------------------------------------------
// Names and limits everything else derives from

/** Most members one role may have (`hubs.count` … `proxies.count`). */
export const MAX_ROLE_COUNT = 1000;

/**
 * Longest cluster `name`. Every name mailfleet derives from it must stay
 * within its own limit for any count the spec allows, so a cluster can
 * always scale without a rename:
 * - member ids `<name>-gateway-999` are RuntimeConfig memberIds, host names
 *   and container names: DNS labels of at most 63 (RFC 1123 §2.1);
 * - the default Kubernetes namespace `mailfleet-<name>` is a DNS label;
 * - StatefulSet pods carry `controller-revision-hash: <name>-node-<10 chars>`,
 *   a label value of at most 63, so `<name>-<role>` is at most 52;
 * - the default Proxmox HA group `mailfleet-<name>` is at most 64.
 * 40 leaves room for all of them (the longest, a member id, is 52).
 */
export const MAX_NAME_LENGTH = 40;

/** Longest member id: the longest role name with the highest index. */
export const MAX_MEMBER_ID_LENGTH = MAX_NAME_LENGTH + `-gateway-${MAX_ROLE_COUNT - 1}`.length;

/** A domain name is at most 253 characters (RFC 1035 §2.3.4, as written without the final dot). */
const MAX_DOMAIN_NAME = 253;

const clusterName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be a lowercase DNS label: a-z, 0-9 and "-", not starting or ending with "-"')
  .max(
    MAX_NAME_LENGTH,
    `at most ${MAX_NAME_LENGTH} characters: member ids (<name>-gateway-${MAX_ROLE_COUNT - 1}), host names and Kubernetes names are made from it`,
  );

/**
 * A host name or an IPv4 address, as it goes into URLs and fstab lines. The
 * last label of a name must not be numeric: URL parsers (WHATWG URL §3.5)
 * read `host.123` as a malformed IPv4 address.
 */
const HOST_NAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const hostOrIpv4 = z
  .string()
  .refine((s) => HOST_NAME.test(s) || IPV4.test(s), 'must be a host name or an IPv4 address, for example nfs.example.net or 10.0.0.5');

/** An IPv4 network in CIDR notation with no host bits set (`10.0.0.0/24`, not `10.0.0.200/24`). */
const networkCidr = ipv4Cidr.superRefine((cidr, ctx) => {
  const network = networkOf(cidr);
  if (network !== cidr) ctx.addIssue({ code: 'custom', message: `has host bits set; the network is ${network}` });
});

/** `10.0.0.200/24` → `10.0.0.0/24`. */
function networkOf(cidr: string): string {
  const { base, bits } = parseCidr(cidr);
  return `${intToIpv4(base)}/${bits}`;
}

function parseCidr(cidr: string): { base: number; bits: number; size: number } {
  const [ip, bitsText] = cidr.split('/') as [string, string];
  const bits = Number(bitsText);
  const size = 2 ** (32 - bits);
  return { base: ipv4ToInt(ip) - (ipv4ToInt(ip) % size), bits, size };
}

/** Offset of `ip` in `cidr`, or undefined when it is not a usable host address there (network, broadcast or outside). */
function hostOffset(cidr: string, ip: string): number | undefined {
  const { base, size } = parseCidr(cidr);
  const offset = ipv4ToInt(ip) - base;
  return offset > 0 && offset < size - 1 ? offset : undefined;
}

/** No whitespace: image references, mount paths and options are written unquoted (fstab, docker run). */
const noSpaces = (what: string) => z.string().regex(/^\S+$/, `must be ${what} without spaces`);

// ---------------------------------------------------------------------------
// Sizes

/** Size of one member of a role. Defaults fit a small install; policies set production floors. */
function roleSize(defaults: { count: number; cpu: number; memoryMiB: number; diskGiB: number }, minCount = 1, max: { count: number; why: string } = { count: MAX_ROLE_COUNT, why: '' }) {
  return strict({
    /** How many members of this role. */
    count: z.number().int().min(minCount, `at least ${minCount}`).max(max.count, `at most ${max.count}${max.why}`).default(defaults.count),
    /** vCPUs (VMs) or CPU request/limit in cores (containers). */
    cpu: z.number().positive().max(256).default(defaults.cpu),
    /** Memory in MiB. */
    memoryMiB: z.number().int().min(128, 'at least 128 MiB').max(4 * 1024 * 1024).default(defaults.memoryMiB),
    /** Root disk in GiB (VMs) or ephemeral storage (containers). Mail itself lives on shared storage. */
    diskGiB: z.number().int().min(1).max(65536).default(defaults.diskGiB),
  }).prefault({});
}

// Role defaults: one hub, two nodes (so a node can fail), one gateway, one proxy.
/**
 * Most hubs: one is active, the rest are standbys, and every member carries
 * every hub's URL in RuntimeConfig `hubUrls` (at most MAX_HUB_URLS), plus
 * one more on Kubernetes, the hubs' Service.
 */
export const MAX_HUBS = MAX_HUB_URLS - 1;
const hubs = roleSize({ count: 1, cpu: 1, memoryMiB: 1024, diskGiB: 10 }, 1, { count: MAX_HUBS, why: ': one hub is active, the others are standbys every member carries the URL of' });
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

/** unix://, tcp://, ssh:// or npipe:// — what the Docker provider's `host` accepts. */
const DOCKER_ENDPOINT = /^(unix|tcp|ssh|npipe):\/\/\S+$/;

/**
 * Docker address plan with several hosts (components/platforms/docker/network.ts):
 * each host's network is a /24 of one per-cluster /21, members get fixed
 * addresses from role blocks inside it (.1 is the bridge, .240–.254 Docker's own).
 */
export const MAX_DOCKER_HOSTS = 8;
export const DOCKER_ADDRESS_BLOCKS = { loadBalancer: 5, hub: 10, gateway: 20, proxy: 60, node: 100 } as const;
export const DOCKER_ADDRESS_BLOCK_SIZE = { loadBalancer: 5, hub: 10, gateway: 40, proxy: 40, node: 140 } as const;

const dockerPlatform = strict({
  kind: z.literal('docker'),
  /**
   * Docker hosts (`unix:///var/run/docker.sock`, `ssh://user@host`). Members are
   * spread round-robin over them; production wants more than one.
   */
  hosts: z
    .array(
      z.string().regex(DOCKER_ENDPOINT, {
        error: (issue) => `${JSON.stringify(issue.input)} must be a Docker endpoint such as unix:///var/run/docker.sock, ssh://deploy@host or tcp://host:2376`,
      }),
    )
    .min(1)
    .max(MAX_DOCKER_HOSTS, `at most ${MAX_DOCKER_HOSTS} Docker hosts per cluster (their networks share one /21, see DOCKER_ADDRESS_BLOCKS)`)
    .default(['unix:///var/run/docker.sock']),
  /** Name of the bridge network to create (per host). */
  network: dnsLabel.optional(),
  /** Host port the load balancer publishes each client port on; 0 keeps the container port. */
  publishOffset: z.number().int().min(0).max(60000).default(0),
});

/** VM subnets: a /31 or /32 has no room for a gateway and a VM; nothing larger than a /8 is one VM segment (keepalived's VIP prefix must be at least 1). */
const MIN_VM_PREFIX = 8;
const MAX_VM_PREFIX = 30;

/** Static addressing for VM platforms: role blocks keep addresses stable when a role scales. */
const vmNetwork = strict({
  /** Subnet the VMs live in: its network address (no host bits), /8 to /30. */
  cidr: networkCidr.refine((c) => {
    const { bits } = parseCidr(c);
    return bits >= MIN_VM_PREFIX && bits <= MAX_VM_PREFIX;
  }, `a VM subnet is /${MIN_VM_PREFIX} to /${MAX_VM_PREFIX}`),
  /** Default gateway of the VMs: a host address inside `cidr` that no VM gets. */
  gateway: ipv4,
  /** First address of the block mailfleet allocates from (see VM_ADDRESS_BLOCKS for the role offsets). */
  firstAddress: ipv4,
  dns: z.array(ipv4).min(1).default(['1.1.1.1']),
  /** Search domain written into the guests; their FQDN is `<member id>.<searchDomain>`. */
  searchDomain: domainName
    .refine((d) => MAX_MEMBER_ID_LENGTH + 1 + d.length <= MAX_DOMAIN_NAME, `at most ${MAX_DOMAIN_NAME - MAX_MEMBER_ID_LENGTH - 1} characters: guests are named <member id>.<searchDomain>, at most ${MAX_DOMAIN_NAME} (RFC 1035 §2.3.4)`)
    .optional(),
});

/** Proxmox VM ids are 100–999999999 (pve `pve-vmid`). */
const MAX_PROXMOX_VM_ID = 999_999_999;
const PROXMOX_VM_ID_RANGE = `a Proxmox VM id is 100–${MAX_PROXMOX_VM_ID}`;
/**
 * Role blocks of the address plan, also used for VM ids (firstVmId + block + i).
 * The node block is open-ended: nodes take every address after its start.
 *
 * The appliance block (the clamd/rspamd VMs mailfleet deploys beside the
 * gateways, one per site: filters.*.deploy) is the last five addresses of
 * the gateway block, so no existing block moves: a cluster that deploys
 * appliances has room for 15 gateways (firstAddress + 10…24), one that does
 * not for 20, and turning appliances on with more than 15 gateways is
 * rejected rather than renumbering anything.
 */
export const VM_ADDRESS_BLOCKS = { hub: 0, loadBalancer: 5, gateway: 10, appliance: 25, proxy: 30, node: 50 } as const;
export const VM_ADDRESS_BLOCK_SIZE = { hub: 5, loadBalancer: 5, gateway: 20, appliance: 5, proxy: 20, node: Infinity } as const;
type VmBlock = keyof typeof VM_ADDRESS_BLOCKS;
const MAX_FIRST_VM_ID = MAX_PROXMOX_VM_ID - VM_ADDRESS_BLOCKS.node - MAX_ROLE_COUNT + 1;
/** Proxmox HA group and rule ids are "pve-configid": a letter, then letters, digits, - and _. */
const PROXMOX_HA_GROUP_ID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
/**
 * Proxmox VE major versions the adapter deploys to. They differ in how HA is
 * configured: 8 has HA groups; 9 replaced them with HA rules (node affinity,
 * resource affinity) and refuses to create a group ("ha groups have been
 * migrated to rules").
 */
export const PROXMOX_VERSIONS = [8, 9] as const;

const proxmoxPlatform = strict({
  kind: z.literal('proxmox'),
  /** API endpoint, e.g. https://pve1.example.net:8006/ */
  endpoint: z.url({ error: 'must be the Proxmox API URL, e.g. https://pve.example.net:8006/' }),
  /** Accept the API's self-signed certificate (lab clusters). */
  insecure: z.boolean().default(false),
  /** Proxmox nodes to spread VMs over (round robin). */
  nodes: z.array(z.string().min(1)).min(1, 'name at least one Proxmox node'),
  /** VM id of the cloud-init capable template to clone. */
  templateVmId: z.number().int().min(100, PROXMOX_VM_ID_RANGE).max(MAX_PROXMOX_VM_ID, PROXMOX_VM_ID_RANGE),
  /** Node that holds the template (defaults to the first of `nodes`). */
  templateNode: z.string().min(1).optional(),
  /** Datastore for VM disks. */
  datastore: z.string().min(1).default('local-lvm'),
  /** Datastore with the `snippets` content type, where cloud-init user data is uploaded. */
  snippetsDatastore: z.string().min(1).default('local'),
  bridge: z.string().min(1).default('vmbr0'),
  vlan: z.number().int().min(1).max(4094).optional(),
  /** First VM id; role blocks are allocated from here like addresses, so the ids of the largest cluster must fit too. */
  firstVmId: z
    .number()
    .int()
    .min(100, PROXMOX_VM_ID_RANGE)
    .max(MAX_FIRST_VM_ID, `at most ${MAX_FIRST_VM_ID}: VM ids run up to firstVmId + ${VM_ADDRESS_BLOCKS.node} + nodes.count - 1 and Proxmox stops at ${MAX_PROXMOX_VM_ID}`)
    .default(4000),
  network: vmNetwork,
  /**
   * Major version of the Proxmox VE cluster, which decides how the VMs are
   * kept running (components/platforms/proxmox/ha.ts): 8 puts them in one HA
   * group over `nodes`; 9 gives each role a strict node-affinity rule over
   * `nodes` and negative resource-affinity rules that keep the role's members
   * on different hosts.
   *
   * Default 8. It cannot be detected offline (a preview talks to no
   * cluster), and asking the API during `pulumi up` would make the resource
   * set depend on a value only the provider knows. 8 keeps every stack
   * deployed before this field existed exactly as it is; a wrong value fails
   * loudly on the first HA object (Proxmox VE 9 refuses to create HA groups,
   * 8 has no HA rules API), never half-configured.
   */
  proxmoxVersion: z
    .literal(PROXMOX_VERSIONS, { error: (issue) => `must be ${PROXMOX_VERSIONS.join(' or ')}, the Proxmox VE major version (got ${JSON.stringify(issue.input)}): 8 uses an HA group, 9 HA rules` })
    .default(8),
  /**
   * Name of the HA group (proxmoxVersion 8), or the prefix of the HA rules
   * (`<haGroup>-<role>-nodes`, `<haGroup>-<role>-apart-<k>` on 9). Default
   * `mailfleet-<name>`.
   */
  haGroup: z.string().regex(PROXMOX_HA_GROUP_ID, 'must start with a letter and hold only letters, digits, "-" and "_" (at most 64)').optional(),
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
  /** Bind address. Loopback by default: the embedded default is for this machine only. Goes into the hub URL, so a host name or IPv4. */
  host: hostOrIpv4.default('127.0.0.1'),
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

/** An NFS export and its mount options go into fstab lines and mount commands: no spaces. */
const nfsPath = z.string().regex(/^\/\S*$/, 'must be the export path: it starts with / and has no spaces');
const nfsOptions = z.string().regex(/^[^\s,]+(,[^\s,]+)*$/, 'must be mount options separated by commas, without spaces (e.g. nfs4,hard)');

export const Storage = z.discriminatedUnion('kind', [
  strict({
    kind: z.literal('nfs'),
    server: hostOrIpv4,
    path: nfsPath,
    /** Mount options; `hard` keeps writes from being silently dropped on a flaky server. */
    options: nfsOptions.default('nfs4,hard,timeo=600,retrans=2,noatime'),
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
    nfs: strict({ server: hostOrIpv4, path: nfsPath, options: nfsOptions.default('nfsvers=4,hard') }).optional(),
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
    cpu: z.number().positive().max(256).default(1),
    memoryMiB: z.number().int().min(128, 'at least 128 MiB').max(4 * 1024 * 1024).default(512),
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
    address: hostOrIpv4,
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

// Filters and the security appliances beside the gateways -------------------

/**
 * Where a deployed clamd gets its signatures from (freshclam):
 * - `freshclam`: ClamAV's own CDN (database.clamav.net);
 * - `mirror`: a private mirror for air-gapped sites (`mirror`, its URL; a
 *   plain HTTP(S) directory such as cvdupdate serves);
 * - `none`: the appliance fetches nothing; the signatures come with the
 *   operator's image (`filters.antivirus.image`) or, on VMs, as files the
 *   operator copies to /var/lib/clamav (clamd starts once they are there).
 */
export const SIGNATURE_UPDATE_MODES = ['freshclam', 'mirror', 'none'] as const;
/** The updates of a deployed clamd when the spec names none (components/appliances reads it, nothing else). */
export const DEFAULT_SIGNATURE_UPDATES = { mode: 'freshclam' } as const;

const SignatureUpdates = strict({
  mode: z.enum(SIGNATURE_UPDATE_MODES),
  /** The mirror's URL (mode mirror only). Written into freshclam.conf, hence no whitespace. */
  mirror: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://clamav-mirror.example.net/' })
    .regex(/^\S+$/, 'must be an http(s) URL without spaces')
    .optional(),
}).superRefine((u, ctx) => {
  const report = reporter(ctx);
  if (u.mode === 'mirror' && u.mirror === undefined) {
    report(['mirror'], 'required with mode mirror: the URL of your private signature mirror, for example https://clamav-mirror.example.net/');
  } else if (u.mode !== 'mirror' && u.mirror !== undefined) {
    report(['mirror'], `is only read with mode mirror (mode is ${u.mode}); remove it or set mode: mirror`);
  }
});

/**
 * `deploy: true`: mailfleet runs the daemon beside the gateways and fills in
 * `address`; `deploy: false`: `address` is the operator's own daemon and the
 * deploy-only fields have nothing to configure.
 */
function checkDeployable(
  f: { deploy: boolean; address?: string },
  deployOnly: Record<string, unknown>,
  daemon: string,
  example: string,
  ctx: z.RefinementCtx,
) {
  const report = reporter(ctx);
  if (f.deploy) {
    if (f.address !== undefined) {
      report(['address'], `is filled in by mailfleet with deploy: true (the ${daemon} it runs beside the gateways); remove it, or set deploy: false to use your own ${daemon} at ${f.address}`);
    }
    return;
  }
  if (f.address === undefined) {
    report(['address'], `required unless deploy: true: the host:port of your own ${daemon} (for example ${example}), or deploy: true to run one beside the gateways`);
  }
  for (const [key, value] of Object.entries(deployOnly)) {
    if (value !== undefined) report([key], `only applies with deploy: true (mailfleet configures only the ${daemon} it deploys); remove it or set deploy: true`);
  }
}

const applianceImage = noSpaces('an image reference');

const Antivirus = strict({
  kind: z.literal('clamd'),
  /** Run clamd beside the gateways (one per site; components/appliances). Default false: use `address`. */
  deploy: z.boolean().default(false),
  /** host:port of your own clamd. Required unless `deploy` is true, when mailfleet fills it in. */
  address: hostPort.optional(),
  /** What to do when clamd cannot be reached: temp-fail keeps mail safe (the sender retries). */
  onError: z.enum(['tempfail', 'accept']).default('tempfail'),
  /** Signature updates of the deployed clamd (deploy only). Default DEFAULT_SIGNATURE_UPDATES. */
  updates: SignatureUpdates.optional(),
  /**
   * Image of the deployed clamd on kubernetes and docker (deploy only); the
   * pinned CLAMD_IMAGE when absent. Air-gapped sites give their registry's
   * copy, or an image with the signatures built in for `updates.mode: none`.
   */
  image: applianceImage.optional(),
}).superRefine((a, ctx) => checkDeployable(a, { updates: a.updates, image: a.image }, 'clamd', '10.0.0.5:3310', ctx));

const Spam = strict({
  ...SpamFilter.shape,
  /** Run rspamd beside the gateways (one per site; components/appliances). Default false: use `address`. */
  deploy: z.boolean().default(false),
  /** host:port of your own spamd or rspamd. Required unless `deploy` is true, when mailfleet fills it in. */
  address: hostPort.optional(),
  /**
   * Air-gapped sites (deploy only): the deployed rspamd makes no DNS or
   * network lookups of its own — no RBLs, fuzzy hashes, remote maps or
   * DNS-based checks (the gateways verify SPF, DKIM and DMARC themselves).
   */
  offline: z.boolean().optional(),
  /** Image of the deployed rspamd on kubernetes and docker (deploy only); the pinned RSPAMD_IMAGE when absent. */
  image: applianceImage.optional(),
}).superRefine((s, ctx) => {
  if (s.deploy && s.kind !== 'rspamd') {
    ctx.addIssue({
      code: 'custom',
      path: ['kind'],
      message: 'deploy: true runs rspamd (kind: rspamd); SpamAssassin publishes no official image to pin, so run spamd yourself and give its address with deploy: false',
    });
  }
  checkDeployable(s, { offline: s.offline, image: s.image }, s.kind, s.kind === 'rspamd' ? 'rspamd.mail.svc:11333' : '10.0.0.6:783', ctx);
});

/** Filters that deploy an appliance (`deploy: true`). */
export function deployedAppliances(f: Filters): { clamd: boolean; rspamd: boolean } {
  return { clamd: f.antivirus?.deploy === true, rspamd: f.spam?.deploy === true };
}

export const Filters = strict({
  antivirus: Antivirus.optional(),
  spam: Spam.optional(),
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
  image: noSpaces('an image reference').default('ghcr.io/mailfleet/mailfleet:0.1.0'),
  /** Build the image from the repository's Dockerfile (docker platform) instead of pulling `image`. */
  build: z.boolean().default(false),
  /** Tarball of the runtime for VM platforms (npm pack output or a registry tarball URL). */
  packageUrl: z.url().default('https://registry.npmjs.org/mailfleet/-/mailfleet-0.1.0.tgz'),
  /**
   * SHA-256 of that tarball, as the release publishes it (SHA256SUMS, docs/release.md).
   * VMs check the download against it before installing and stop the boot on
   * a mismatch; without it they install whatever the URL serves. Optional
   * here, required in production by the `verified-runtime-package` policy.
   */
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'must be the SHA-256 of runtime.packageUrl: 64 hexadecimal characters, as `sha256sum mailfleet-x.y.z.tgz` prints it')
    .transform((h) => h.toLowerCase())
    .optional(),
  /** Node.js major version installed in VMs. */
  nodeMajor: z.number().int().min(20).default(20),
}).prefault({});
export type Runtime = z.infer<typeof Runtime>;

const Gateway = strict({
  /**
   * Networks allowed to relay without authentication (RFC 1918 only; an empty
   * list is the safe default: only authenticated submission relays).
   */
  relayNetworks: z.array(networkCidr).default([]),
  /** Send outbound mail through this relay instead of direct MX delivery. */
  smarthost: hostPort.optional(),
  /** Largest message accepted (bytes). */
  maxMessageBytes: z.number().int().min(1024).default(50 * 1024 * 1024),
}).prefault({});

const Admin = strict({
  /** Expose the hub's admin API through the public load balancer. Off by default and rejected by policy. */
  public: z.boolean().default(false),
  /** Networks allowed to reach the admin API when it is exposed internally. */
  allowedCidrs: z.array(networkCidr).default([]),
}).prefault({});

/**
 * Prometheus scraping of the members. Every member serves `GET /metrics` on
 * its management port (DESIGN.md); examples/monitoring/ holds a Grafana
 * dashboard and alert rules for those metrics.
 */
const Monitoring = strict({
  /**
   * Create a Prometheus Operator ServiceMonitor (`monitoring.coreos.com/v1`)
   * that scrapes every member on its Service's `management` port, under the
   * job name `mailfleet` the example alert rules expect. Kubernetes only, and
   * the cluster must have the Prometheus Operator's CRDs (kube-prometheus-stack
   * installs them): without them the apply fails, so the default is off. A
   * Prometheus that selects ServiceMonitors by label finds it through
   * `platform.labels`, which every object carries.
   */
  serviceMonitor: z.boolean({ error: 'must be true or false (true: create a Prometheus Operator ServiceMonitor for the members, kubernetes only)' }).default(false),
  /**
   * Labels on the ServiceMonitor only, for a Prometheus whose
   * `serviceMonitorSelector` wants its own (kube-prometheus-stack selects
   * `release: <its release name>`), without putting them on every object as
   * `platform.labels` would. Kubernetes label syntax (RFC 1123 prefix, name
   * and value of at most 63 characters).
   */
  serviceMonitorLabels: z
    .record(
      z.string().regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, 'must be a Kubernetes label key ([prefix/]name, the name at most 63 letters, digits, - _ . and starting and ending alphanumeric)'),
      z.string().regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/, 'must be a Kubernetes label value (at most 63 letters, digits, - _ . starting and ending alphanumeric, or empty)'),
    )
    .default({}),
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
  name: clusterName,
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
  /**
   * Client limits of every member, as in RuntimeConfig `limits` and with
   * the same names: connections (total, per address, exempt networks),
   * the login deadline, the TLS handshake time, failed-login limits and
   * password checks. Each is optional: absent, the runtime's default
   * applies (mail-runtime/config/schema.ts decides each, README "Limits"
   * lists them). `maxMessageBytes` is `gateway.maxMessageBytes`.
   */
  limits: ClusterLimits.prefault({}),
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
  monitoring: Monitoring,
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

// ---------------------------------------------------------------------------
// Rules across fields: everything rendering (render.ts) and the platform
// adapters (platforms/<kind>/) need, checked here so that a spec `validate`
// accepts also renders and previews. Each problem is reported on the field
// the user wrote and says what is allowed.

type Path = readonly (string | number)[];
/** Records one problem on the field at `path`. */
type Report = (path: Path, message: string) => void;

const reporter =
  (ctx: z.RefinementCtx): Report =>
  (path, message) =>
    ctx.addIssue({ code: 'custom', path: [...path], message });

/** A field's path as messages print it (`platform.network.cidr`), to point at another field. */
const fieldName = (path: Path) => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');

const oneOf = (values: readonly string[]) => (values.length === 1 ? values[0]! : `one of ${values.join(', ')}`);

const plural = (role: Role) => (role === 'proxy' ? 'proxies' : (`${role}s` as const));

/** What a platform hosts: a cluster's roles, or a failover site's single all-roles member. */
interface Placement {
  /** The cluster (or pair) name. */
  name: string;
  /** Members per role; a failover site's all-roles member counts as the hub (it takes the hub's address block). */
  counts: Record<Role, number>;
  /** Member id of member i of a role, as render.ts names it. */
  memberId(role: Role, index: number): string;
  /** Where each role's count was written (a failover site has no counts to change). */
  countPath?: (role: Role) => Path;
  storage: Storage | undefined;
  loadBalancer: LoadBalancer | undefined;
  /** True when `loadBalancer` is the platform's default, not something the user wrote. */
  defaultLoadBalancer?: boolean;
  tls: Tls;
  /** Paths of the platform, storage and load balancer this placement reads. */
  at: { platform: Path; storage: Path; loadBalancer: Path };
  /** Appliance VMs (clamd/rspamd beside the gateways, one per site) in the VM address plan; 0 when none are deployed. */
  appliances: number;
}

function checkStorageAndLoadBalancer(kind: PlatformKind, place: Placement, report: Report) {
  const storage = place.storage;
  if (storage && !PLATFORM_STORAGE[kind].includes(storage.kind)) {
    report([...place.at.storage, 'kind'], `"${storage.kind}" is not available on ${kind}; use ${oneOf(PLATFORM_STORAGE[kind])}`);
  }
  const lb = place.loadBalancer;
  if (lb && !PLATFORM_LOAD_BALANCERS[kind].includes(lb.kind)) {
    report([...place.at.loadBalancer, 'kind'], `"${lb.kind}" is not available on ${kind}; use ${oneOf(PLATFORM_LOAD_BALANCERS[kind])}`);
  }
}

const anyDeployed = (f: Filters) => Object.values(deployedAppliances(f)).some(Boolean);

/** Calls `report(path, daemon)` for each filter with `deploy: true`. */
function forEachDeployed(f: Filters, report: (path: Path, daemon: string) => void) {
  if (f.antivirus?.deploy) report(['filters', 'antivirus', 'deploy'], 'clamd');
  if (f.spam?.deploy) report(['filters', 'spam', 'deploy'], f.spam.kind);
}

function checkProductionPlatform(environment: Environment, kind: PlatformKind, path: Path, report: Report) {
  if (environment === 'production' && kind === 'local') {
    report(path, 'local runs every member as a child process on this one machine, which is not for production; use kubernetes, docker, proxmox or vsphere (or environment: development)');
  }
}

function checkUnique(values: readonly string[], path: Path, what: string, report: Report) {
  const seen = new Set<string>();
  values.forEach((v, i) => {
    if (seen.has(v)) report([...path, i], `${what} "${v}" is listed twice`);
    seen.add(v);
  });
}

function checkPlatform(platform: Platform, place: Placement, report: Report) {
  switch (platform.kind) {
    case 'kubernetes':
      return checkKubernetes(platform, place, report);
    case 'docker':
      return checkDocker(platform, place, report);
    case 'proxmox':
      checkProxmox(platform, place, report);
      return checkVmNetwork(platform.network, [...place.at.platform, 'network'], 'proxmox', place, report);
    case 'vsphere':
      return checkVmNetwork(platform.addresses, [...place.at.platform, 'addresses'], 'vsphere', place, report);
    case 'local':
      return;
  }
}

// Kubernetes -----------------------------------------------------------------

/** Labels the Kubernetes adapter sets and selects pods by; the operator's labels may not set them. */
export const KUBERNETES_LABELS = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  component: 'app.kubernetes.io/component',
  partOf: 'app.kubernetes.io/part-of',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;
const RESERVED_LABELS: readonly string[] = Object.values(KUBERNETES_LABELS);

/** Kubernetes name syntax (k8s.io/apimachinery validation: DNS-1123 subdomain, qualified name, label value). */
const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** A label or annotation key: `[prefix/]name` (Kubernetes "qualified name"). Returns what is wrong, or undefined. */
function keyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && !DNS1123_SUBDOMAIN.test(prefix)) return `prefix "${prefix}" must be a lowercase DNS subdomain`;
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return `name part "${name}" must be 1–63 characters of A–Z, a–z, 0–9, "-", "_", "." starting and ending alphanumeric`;
  }
  return undefined;
}

function checkKubernetes(p: PlatformOf<'kubernetes'>, place: Placement, report: Report) {
  // Services are DNS-1035 labels (RFC 1035 §2.3.1: a letter first); theirs are `<name>-<role>`.
  if (dnsLabel.safeParse(place.name).success && !/^[a-z]/.test(place.name)) {
    report(['name'], 'must start with a letter on kubernetes: the Service names made from it are DNS-1035 labels');
  }
  for (const [key, value] of Object.entries(p.labels)) {
    const path = [...place.at.platform, 'labels', key];
    const kp = keyProblem(key);
    if (kp) report(path, `is not a label key: ${kp}`);
    else if (RESERVED_LABELS.includes(key)) report(path, `is set by mailfleet (it selects pods); reserved keys: ${RESERVED_LABELS.join(', ')}`);
    if (value.length > 63 || !LABEL_VALUE.test(value)) {
      report(path, 'must be a label value: at most 63 characters of A–Z, a–z, 0–9, "-", "_", "." starting and ending alphanumeric (or empty)');
    }
  }
  p.spreadKeys.forEach((key, i) => {
    const kp = keyProblem(key);
    if (kp) report([...place.at.platform, 'spreadKeys', i], `is not a node label key: ${kp}`);
  });
  checkUnique(p.spreadKeys, [...place.at.platform, 'spreadKeys'], 'spread key', report);
  const lb = place.loadBalancer;
  if (lb?.kind === 'kubernetes-service') {
    for (const key of Object.keys(lb.annotations)) {
      const kp = keyProblem(key);
      if (kp) report([...place.at.loadBalancer, 'annotations', key], `is not an annotation key: ${kp}`);
    }
    if (lb.loadBalancerIP && p.serviceType !== 'LoadBalancer') {
      report([...place.at.loadBalancer, 'loadBalancerIP'], `only applies to platform.serviceType LoadBalancer (got ${p.serviceType})`);
    }
  }
  if (place.storage?.kind === 'pvc-rwx' && !DNS1123_SUBDOMAIN.test(place.storage.storageClass)) {
    report([...place.at.storage, 'storageClass'], 'must be a StorageClass name: a lowercase DNS subdomain such as cephfs or nfs-client');
  }
  if (place.tls.mode === 'cert-manager' && !DNS1123_SUBDOMAIN.test(place.tls.issuer)) {
    report(['tls', 'issuer'], `must be a cert-manager ${place.tls.issuerKind} name: a lowercase DNS subdomain such as letsencrypt-prod`);
  }
}

// Docker ---------------------------------------------------------------------

function checkDocker(p: PlatformOf<'docker'>, place: Placement, report: Report) {
  checkUnique(p.hosts, [...place.at.platform, 'hosts'], 'Docker host', report);
  if (place.loadBalancer?.kind === 'haproxy' && place.loadBalancer.vip !== undefined) {
    report([...place.at.loadBalancer, 'vip'], 'is only used on proxmox and vsphere (keepalived on the HAProxy VMs); on docker clients reach HAProxy on the Docker host\'s address: remove vip');
  }
  const hosts = new Set(p.hosts).size;
  if (hosts < 2) return;
  // Several hosts: fixed addresses from per-host role blocks (platforms/docker/network.ts).
  for (const role of ROLES) {
    const perHost = Math.ceil(place.counts[role] / hosts);
    const countPath = place.countPath?.(role);
    if (countPath && perHost > DOCKER_ADDRESS_BLOCK_SIZE[role]) {
      report(countPath, `at most ${DOCKER_ADDRESS_BLOCK_SIZE[role] * hosts} ${plural(role)} on ${hosts} Docker hosts (${DOCKER_ADDRESS_BLOCK_SIZE[role]} per host fit the address plan)`);
    }
  }
  if (place.storage?.kind === 'docker-volume' && !place.storage.nfs) {
    report([...place.at.storage, 'nfs'], 'required with more than one Docker host: a local volume is not shared between hosts, so no node could take over another host\'s mailboxes');
  }
}

// Proxmox --------------------------------------------------------------------

function checkProxmox(p: PlatformOf<'proxmox'>, place: Placement, report: Report) {
  checkUnique(p.nodes, [...place.at.platform, 'nodes'], 'Proxmox node', report);
  // The template must not be one of the VM ids the cluster allocates (firstVmId + block + i).
  for (const [block, owner] of vmBlocks(place)) {
    const index = p.templateVmId - p.firstVmId - VM_ADDRESS_BLOCKS[block];
    if (index >= 0 && index < owner.count) {
      report([...place.at.platform, 'templateVmId'], `${p.templateVmId} is also the VM id of ${owner.name(index)} (firstVmId ${p.firstVmId} + ${VM_ADDRESS_BLOCKS[block]} + ${index}); move firstVmId or name another template`);
    }
  }
}

// VM address plan (proxmox, vsphere) ------------------------------------------

/** Blocks of the VM plan this placement uses, with how many VMs each holds and their names. */
function vmBlocks(place: Placement): [VmBlock, { count: number; name: (i: number) => string }][] {
  const lb = place.loadBalancer;
  return [
    ['hub', { count: place.counts.hub, name: (i) => place.memberId('hub', i) }],
    ['loadBalancer', { count: lb?.kind === 'haproxy' ? lb.replicas : 0, name: (i) => `${place.name}-lb-${i}` }],
    ['gateway', { count: place.counts.gateway, name: (i) => place.memberId('gateway', i) }],
    // render.ts names them so (renderAppliances).
    ['appliance', { count: place.appliances, name: (i) => `${place.name}-appliance-${i}` }],
    ['proxy', { count: place.counts.proxy, name: (i) => place.memberId('proxy', i) }],
    ['node', { count: place.counts.node, name: (i) => place.memberId('node', i) }],
  ];
}

function checkVmNetwork(
  net: { cidr: string; gateway: string; firstAddress: string },
  at: Path,
  kind: 'proxmox' | 'vsphere',
  place: Placement,
  report: Report,
) {
  // Field syntax is the schema's; plan only what it accepted.
  if (![net.gateway, net.firstAddress].every((ip) => IPV4.test(ip))) return;
  const { bits } = parseCidr(net.cidr);
  if (networkOf(net.cidr) !== net.cidr || bits < MIN_VM_PREFIX || bits > MAX_VM_PREFIX) return;
  const cidrField = fieldName([...at, 'cidr']);
  if (hostOffset(net.cidr, net.gateway) === undefined) {
    report([...at, 'gateway'], `${net.gateway} is not a host address in ${net.cidr} (${cidrField}): the VMs could not reach it`);
  }
  const first = hostOffset(net.cidr, net.firstAddress);
  if (first === undefined) {
    report([...at, 'firstAddress'], `${net.firstAddress} is not a host address in ${net.cidr} (${cidrField})`);
    return;
  }

  const blocks = vmBlocks(place);
  // With appliances deployed, the gateways end where the appliance block starts (see VM_ADDRESS_BLOCKS).
  const gatewayRoom = VM_ADDRESS_BLOCKS.appliance - VM_ADDRESS_BLOCKS.gateway;
  const capacity = (block: VmBlock) => (block === 'gateway' && place.appliances > 0 ? gatewayRoom : VM_ADDRESS_BLOCK_SIZE[block]);
  for (const [block, owner] of blocks) {
    if (owner.count <= capacity(block)) continue;
    if (block === 'loadBalancer') {
      report([...place.at.loadBalancer, 'replicas'], `at most ${VM_ADDRESS_BLOCK_SIZE.loadBalancer} HAProxy VMs fit the VM address plan`);
    } else if (block === 'appliance') {
      report(['sites'], `at most ${VM_ADDRESS_BLOCK_SIZE.appliance} sites with gateways can have deployed appliances (one VM each at firstAddress + ${VM_ADDRESS_BLOCKS.appliance}…${VM_ADDRESS_BLOCKS.appliance + VM_ADDRESS_BLOCK_SIZE.appliance - 1})`);
    } else if (block === 'gateway' && place.appliances > 0) {
      const countPath = place.countPath?.(block);
      if (countPath) {
        report(
          countPath,
          `at most ${gatewayRoom} gateways fit the VM address plan with deployed appliances (filters.*.deploy): gateways take firstAddress + ${VM_ADDRESS_BLOCKS.gateway}…${VM_ADDRESS_BLOCKS.appliance - 1}, the clamd/rspamd VMs + ${VM_ADDRESS_BLOCKS.appliance}…${VM_ADDRESS_BLOCKS.appliance + VM_ADDRESS_BLOCK_SIZE.appliance - 1}`,
        );
      }
    } else {
      const countPath = place.countPath?.(block);
      if (countPath) report(countPath, `at most ${VM_ADDRESS_BLOCK_SIZE[block]} ${plural(block)} fit the VM address plan (${plural(block)} take firstAddress + ${VM_ADDRESS_BLOCKS[block]}…${VM_ADDRESS_BLOCKS[block] + VM_ADDRESS_BLOCK_SIZE[block] - 1})`);
    }
  }
  const { size } = parseCidr(net.cidr);
  const last = first + VM_ADDRESS_BLOCKS.node + place.counts.node - 1;
  if (place.counts.node > 0 && last >= size - 1) {
    report([...at, 'cidr'], `${net.cidr} from ${net.firstAddress} has no room for ${place.counts.node} nodes (nodes start at firstAddress + ${VM_ADDRESS_BLOCKS.node})`);
  }

  // Every address a VM gets, so the gateway and the VIP can be checked against them.
  const owners = new Map<string, string>();
  for (const [block, owner] of blocks) {
    for (let i = 0; i < Math.min(owner.count, capacity(block)); i++) {
      owners.set(intToIpv4(ipv4ToInt(net.firstAddress) + VM_ADDRESS_BLOCKS[block] + i), owner.name(i));
    }
  }
  const gatewayOwner = owners.get(net.gateway);
  if (gatewayOwner) report([...at, 'gateway'], `${net.gateway} is also the address of ${gatewayOwner}; move firstAddress (${net.firstAddress}) so the VM blocks do not cover the gateway`);

  const lb = place.loadBalancer;
  if (lb?.kind !== 'haproxy') return;
  const vipPath = [...place.at.loadBalancer, 'vip'];
  if (lb.vip === undefined) {
    if (kind === 'vsphere' && lb.replicas >= 2) {
      report(
        vipPath,
        place.defaultLoadBalancer
          ? `required on vsphere, whose default load balancer is ${lb.replicas} HAProxy VMs: keepalived moves the VIP between them and clients use it (or set loadBalancer.kind: external)`
          : `required with ${lb.replicas} HAProxy replicas on vsphere: keepalived moves it between them and clients use it`,
      );
    }
    return;
  }
  if (!IPV4.test(lb.vip)) return;
  if (lb.replicas < 2) {
    report(vipPath, 'needs loadBalancer.replicas of at least 2: keepalived moves the VIP between HAProxy VMs (with one replica, remove vip and clients use its address)');
  } else if (hostOffset(net.cidr, lb.vip) === undefined) {
    report(vipPath, `${lb.vip} is not a host address in ${net.cidr} (${cidrField})`);
  } else if (lb.vip === net.gateway) {
    report(vipPath, `${lb.vip} is the gateway (${fieldName([...at, 'gateway'])})`);
  } else if (owners.has(lb.vip)) {
    report(vipPath, `${lb.vip} is already the address of ${owners.get(lb.vip)}`);
  }
}

// The two topologies -----------------------------------------------------------

export const ClusterSpec = ClusterObject.superRefine((spec, ctx) => {
  const report = reporter(ctx);
  const kind = spec.platform.kind;
  const storage = spec.storage ?? defaultStorage(kind);
  if (!storage) report(['storage'], `required on ${kind}: ${oneOf(PLATFORM_STORAGE[kind])}`);
  const place: Placement = {
    name: spec.name,
    counts: { hub: spec.hubs.count, node: spec.nodes.count, gateway: spec.gateways.count, proxy: spec.proxies.count },
    memberId: (role, i) => `${spec.name}-${role}-${i}`,
    countPath: (role) => [plural(role), 'count'],
    storage,
    loadBalancer: spec.loadBalancer ?? defaultLoadBalancer(kind),
    defaultLoadBalancer: spec.loadBalancer === undefined,
    tls: spec.tls,
    at: { platform: ['platform'], storage: ['storage'], loadBalancer: ['loadBalancer'] },
    // One appliance VM per site with gateways; render.ts places every member in the first site.
    appliances: anyDeployed(spec.filters) ? 1 : 0,
  };
  checkStorageAndLoadBalancer(kind, place, report);
  checkProductionPlatform(spec.environment, kind, ['platform', 'kind'], report);
  if (kind === 'local') {
    forEachDeployed(spec.filters, (path, daemon) =>
      report(path, `local runs no appliances: start ${daemon} on this machine yourself and give its address (deploy: false); mailfleet deploys ${daemon} on kubernetes, docker, proxmox and vsphere`),
    );
  }
  if (kind === 'proxmox' || kind === 'vsphere') {
    // Appliance VMs install Debian's packages; an image would be read by nobody.
    for (const [filter, pkg] of [['antivirus', 'clamav-daemon'], ['spam', 'rspamd']] as const) {
      if (spec.filters[filter]?.image !== undefined) {
        report(['filters', filter, 'image'], `is for kubernetes and docker; on ${kind} the appliance VM installs ${pkg} from Debian: remove it`);
      }
    }
  }
  checkUniqueDomains(spec.domains, report);
  checkUnique(spec.sites.map((s) => s.name), ['sites'], 'site', report);
  if (spec.tls.mode === 'cert-manager' && kind !== 'kubernetes') {
    report(['tls', 'mode'], 'cert-manager is only available on kubernetes; use self-signed or provided');
  }
  if (spec.monitoring.serviceMonitor && kind !== 'kubernetes') {
    report(['monitoring', 'serviceMonitor'], `is for kubernetes (it creates a Prometheus Operator ServiceMonitor); on ${kind}, point Prometheus at each member's management port /metrics (examples/monitoring/README.md)`);
  }
  if (Object.keys(spec.monitoring.serviceMonitorLabels).length && !spec.monitoring.serviceMonitor) {
    report(['monitoring', 'serviceMonitorLabels'], 'labels the ServiceMonitor, so it needs monitoring.serviceMonitor: true');
  }
  checkPlatform(spec.platform, place, report);
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

function checkUniqueDomains(domains: readonly { name: string }[], report: Report) {
  const seen = new Set<string>();
  domains.forEach((d, i) => {
    if (seen.has(d.name)) report(['domains', i, 'name'], `domain "${d.name}" is listed twice`);
    seen.add(d.name);
  });
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

/** Member index of each failover site: the primary is `<name>-all-0`, the standby `<name>-all-1` (render.ts). */
const SITE_INDEX = { primary: 0, standby: 1 } as const;

export const FailoverPairSpec = strict({
  kind: z.literal('failover-pair'),
  ...commonFields,
  primary: failoverSite,
  standby: failoverSite,
  /** As a cluster's: a ServiceMonitor for the member of each site on kubernetes. */
  monitoring: Monitoring,
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
  const report = reporter(ctx);
  checkUniqueDomains(spec.domains, report);
  if (spec.primary.site.name === spec.standby.site.name) {
    report(['standby', 'site', 'name'], 'the standby must be in another site than the primary');
  }
  for (const side of ['primary', 'standby'] as const) {
    const site = spec[side];
    const kind = site.platform.kind;
    if (site.member.count !== 1) report([side, 'member', 'count'], 'a failover site runs exactly 1 all-roles member');
    checkProductionPlatform(spec.environment, kind, [side, 'platform', 'kind'], report);
    if (spec.tls.mode === 'cert-manager' && kind !== 'kubernetes') {
      report(['tls', 'mode'], `cert-manager is only available on kubernetes (${side} is on ${kind}); use self-signed or provided`);
    }
    const place: Placement = {
      name: spec.name,
      counts: { hub: 1, node: 0, gateway: 0, proxy: 0 },
      memberId: () => `${spec.name}-all-${SITE_INDEX[side]}`,
      storage: site.storage,
      loadBalancer: site.loadBalancer,
      tls: spec.tls,
      at: { platform: [side, 'platform'], storage: [side, 'storage'], loadBalancer: [side, 'loadBalancer'] },
      appliances: 0,
    };
    checkStorageAndLoadBalancer(kind, place, report);
    checkPlatform(site.platform, place, report);
  }
  if (spec.monitoring.serviceMonitor && spec.primary.platform.kind !== 'kubernetes' && spec.standby.platform.kind !== 'kubernetes') {
    report(['monitoring', 'serviceMonitor'], "is for kubernetes sites (it creates a Prometheus Operator ServiceMonitor); on other platforms, point Prometheus at the member's management port /metrics (examples/monitoring/README.md)");
  }
  if (Object.keys(spec.monitoring.serviceMonitorLabels).length && !spec.monitoring.serviceMonitor) {
    report(['monitoring', 'serviceMonitorLabels'], 'labels the ServiceMonitor, so it needs monitoring.serviceMonitor: true');
  }
  forEachDeployed(spec.filters, (path, daemon) =>
    report(path, `a failover pair deploys no appliances: run ${daemon} at each site yourself and give its address (deploy: false)`),
  );
  if (spec.failover.mode === 'automatic' && !spec.failover.fencing) {
    report(['failover', 'fencing'], 'automatic failover needs fencing configured (storageLease and/or powerOff) so the old primary cannot keep writing');
  }
}).transform((spec) => ({ ...spec, security: { plaintextAuth: spec.security.plaintextAuth ?? 'never' } }));
export type FailoverPairSpec = z.output<typeof FailoverPairSpec>;
export type FailoverPairSpecInput = z.input<typeof FailoverPairSpec>;

/** Either topology; a spec file without `kind` is a cluster. */
export type TopologySpec = ClusterSpec | FailoverPairSpec;

function parseWith<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  // reportInput: messages can quote what the user wrote ("must be a whole number (got 1.5)").
  const result = schema.safeParse(input, { reportInput: true });
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

