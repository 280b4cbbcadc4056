/**
 * The topology spec as the policies read it: the `spec` output that the
 * MailCluster and FailoverPair components register. The pack is
 * self-contained (it is installed and run on its own by `pulumi preview
 * --policy-pack`), so it carries its own description of the fields it reads
 * instead of importing components/. Every field is optional: a hand-built
 * resource may not carry it, and the rules read defensively.
 *
 * test/policies/spec-contract.test.ts checks at compile time that the
 * components' validated spec types are assignable to these, so the two
 * cannot drift apart.
 */

export type Role = 'hub' | 'node' | 'gateway' | 'proxy';

export interface RoleSize {
  count?: number;
  cpu?: number;
  memoryMiB?: number;
  diskGiB?: number;
}

export type Platform =
  | { kind: 'kubernetes'; namespace?: string; context?: string; spreadKeys?: readonly string[] }
  | { kind: 'docker'; hosts?: readonly string[] }
  | { kind: 'proxmox'; endpoint?: string; nodes?: readonly string[]; proxmoxVersion?: 8 | 9 }
  | { kind: 'vsphere'; server?: string; datacenter?: string; cluster?: string }
  | { kind: 'local'; dir?: string; host?: string };

export interface Backup {
  schedule?: string;
  retain?: number;
  target?: string;
}

export type Storage =
  | { kind: 'nfs'; server?: string; path?: string; sizeGiB?: number; backup?: Backup }
  | { kind: 'pvc-rwx'; storageClass?: string; sizeGiB?: number; backup?: Backup }
  | { kind: 'docker-volume'; nfs?: { server?: string; path?: string }; sizeGiB?: number; backup?: Backup }
  | { kind: 'local-dir'; path?: string; sizeGiB?: number; backup?: Backup };

export type LoadBalancer =
  | { kind: 'haproxy'; replicas?: number; vip?: string; cpu?: number; memoryMiB?: number }
  | { kind: 'kubernetes-service' }
  | { kind: 'external'; address?: string };

export interface Domain {
  name: string;
  quota?: { mailboxMiB?: number; maxUsers?: number };
}

export interface Runtime {
  image?: string;
  build?: boolean;
  packageUrl?: string;
  /** SHA-256 of the packageUrl tarball, which VMs check before installing it. */
  sha256?: string;
}

/**
 * The scanners the gateways use: the operator's own (`address`) or one
 * mailfleet deploys beside the gateways (`deploy: true`).
 */
export interface Filters {
  antivirus?: {
    kind?: string;
    deploy?: boolean;
    address?: string;
    onError?: 'tempfail' | 'accept';
    updates?: { mode?: 'freshclam' | 'mirror' | 'none'; mirror?: string };
    image?: string;
  };
  spam?: {
    kind?: string;
    deploy?: boolean;
    address?: string;
    offline?: boolean;
    image?: string;
    rejectScore?: number;
    junkScore?: number;
    onError?: 'tempfail' | 'accept';
  };
  dkim?: { selector?: string };
}

interface CommonSpec {
  name?: string;
  environment?: 'production' | 'staging' | 'development';
  domains?: readonly Domain[];
  tls?: { mode?: string };
  runtime?: Runtime;
  filters?: Filters;
  gateway?: { relayNetworks?: readonly string[] };
  admin?: { public?: boolean; allowedCidrs?: readonly string[] };
  security?: { plaintextAuth?: 'never' | 'loopback' | 'always' };
}

export interface ClusterSpec extends CommonSpec {
  platform: Platform;
  hubs?: RoleSize;
  nodes?: RoleSize;
  gateways?: RoleSize;
  proxies?: RoleSize;
  storage?: Storage;
  loadBalancer?: LoadBalancer;
}

export interface FailoverSite {
  site?: { name?: string };
  platform?: Platform;
  storage?: Storage;
  member?: RoleSize;
  loadBalancer?: LoadBalancer;
}

export interface FailoverPairSpec extends CommonSpec {
  primary?: FailoverSite;
  standby?: FailoverSite;
  failover?: {
    mode?: 'automatic' | 'manual';
    probeIntervalSeconds?: number;
    failureThreshold?: number;
    fencing?: { storageLease?: boolean; powerOff?: boolean };
    replication?: string;
    standbyState?: 'stopped' | 'running';
  };
}

/** Total mailbox capacity the domains may need, in GiB (users × quota); domains without a quota count 0. */
export function plannedMailGiB(domains: readonly Domain[]): number {
  return domains.reduce((sum, d) => sum + ((d.quota?.maxUsers ?? 0) * (d.quota?.mailboxMiB ?? 0)) / 1024, 0);
}
