import { createHash } from 'node:crypto';
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { RenderedMember } from '../../render';
import { DOCKER_ADDRESS_BLOCKS, MAX_DOCKER_HOSTS, type ClusterSpec, type PlatformOf } from '../../spec';
import type { ProviderSources } from '../types';

/**
 * Docker hosts, one provider and one bridge network per host, and the
 * address plan that lets members on different hosts reach each other.
 *
 * One host: a plain bridge network; members find each other by container
 * name through Docker's embedded DNS.
 *
 * Several hosts: a bridge network is local to its host, so each host's
 * network gets its own /24 out of a per-cluster block, every member a fixed
 * address from role blocks (scaling one role never moves another), and every
 * container an /etc/hosts entry for each member on another host. The networks
 * are created in Docker's "routed" gateway mode (no NAT towards the
 * containers); the operator routes each host's /24 to that host (e.g. `ip
 * route add <subnet> via <host>` on the others). `hostSubnets` lists them.
 */

export type DockerPlatform = PlatformOf<'docker'>;

/** Offsets inside a host's /24 (components/spec.ts, whose validation keeps every role inside its block): .1 is the bridge gateway; .240–.254 stay for Docker's own dynamic allocation. */
export { DOCKER_ADDRESS_BLOCKS };
const DYNAMIC_RANGE = { offset: 240, prefix: 28 } as const;
/** A multi-host cluster's /21 (MAX_DOCKER_HOSTS × /24) is picked by hashing its name inside this /13. */
export const MULTI_HOST_POOL = { firstOctet: 10, secondOctetBase: 200, blocks: 256 } as const;

export interface HostPlan {
  index: number;
  /** Docker endpoint: unix://, tcp://, ssh:// or npipe://. */
  url: string;
  /** Address clients reach this host on (from the URL; 127.0.0.1 for a local socket). */
  address: string;
  /** Static /24 of this host's network (multi-host only). */
  subnet?: string;
}

export function hostAddress(url: string): string {
  const m = /^(?:tcp|ssh|http|https):\/\/(?:[^@/]+@)?(\[[^\]]+\]|[^:/]+)/.exec(url);
  return m ? m[1]! : '127.0.0.1';
}

function clusterBlock(name: string): { second: number; third: number } {
  const b = createHash('sha256').update(name).digest().readUInt8(0) % MULTI_HOST_POOL.blocks;
  return { second: MULTI_HOST_POOL.secondOctetBase + (b >> 5), third: (b & 31) * MAX_DOCKER_HOSTS };
}

/**
 * The host plan. The spec's validation has checked the hosts (syntax, each
 * once, at most MAX_DOCKER_HOSTS), the per-host role blocks and shared
 * storage for several hosts.
 */
export function planHosts(spec: ClusterSpec & { platform: DockerPlatform }): HostPlan[] {
  const p = spec.platform;
  const multi = p.hosts.length > 1;
  const block = clusterBlock(spec.name);
  return p.hosts.map((url, index) => ({
    index,
    url,
    address: hostAddress(url),
    subnet: multi ? `${MULTI_HOST_POOL.firstOctet}.${block.second}.${block.third + index}.0/24` : undefined,
  }));
}

/** Host of a member: round robin within its role (member i on hosts[i % n]). */
export function hostOf(member: Pick<RenderedMember, 'index'>, hosts: readonly HostPlan[]): HostPlan {
  return hosts[member.index % hosts.length]!;
}

function inSubnet(subnet: string, offset: number): string {
  const [a, b, c] = subnet.split('.') as [string, string, string];
  return `${a}.${b}.${c}.${offset}`;
}

/** Fixed address of a member (multi-host), undefined on one host (Docker assigns it). */
export function staticAddress(block: keyof typeof DOCKER_ADDRESS_BLOCKS, index: number, hosts: readonly HostPlan[]): string | undefined {
  const host = hosts[index % hosts.length]!;
  if (!host.subnet) return undefined;
  return inSubnet(host.subnet, DOCKER_ADDRESS_BLOCKS[block] + Math.floor(index / hosts.length));
}

/** /etc/hosts entries for the members that live on other hosts than `host`. */
export function crossHostEntries(members: readonly RenderedMember[], host: HostPlan, hosts: readonly HostPlan[]): { host: string; ip: string }[] {
  return members
    .filter((m) => hostOf(m, hosts).index !== host.index)
    .map((m) => ({ host: m.memberId, ip: staticAddress(m.role as keyof typeof DOCKER_ADDRESS_BLOCKS, m.index, hosts)! }))
    .filter((e) => e.ip !== undefined);
}

export interface HostResources {
  plan: HostPlan;
  provider: pulumi.ProviderResource;
  network: docker.Network;
}

/** The Pulumi package (and provider type `pulumi:providers:docker`) of @pulumi/docker. */
export const DOCKER_PACKAGE = 'docker';

/**
 * The provider each host uses: the caller's for that host (`perHost`, keyed
 * by the URL in platform.hosts), else, on a single-host cluster, the
 * caller's docker provider, else undefined (createHosts builds one from the
 * URL). Validated before anything is created.
 */
export function chooseHostProviders(
  plans: readonly HostPlan[],
  providers: ProviderSources<never>,
  parent: pulumi.Resource,
): (pulumi.ProviderResource | undefined)[] {
  const urls = new Set(plans.map((p) => p.url));
  for (const key of Object.keys(providers.perHost)) {
    if (!urls.has(key)) {
      throw new pulumi.ResourceError(`dockerHosts: "${key}" is not one of platform.hosts (${[...urls].join(', ')})`, parent);
    }
  }
  const shared = providers.explicit(DOCKER_PACKAGE);
  const chosen = plans.map((p) => providers.perHost[p.url] ?? (plans.length === 1 ? shared : undefined));
  if (shared && plans.length > 1 && chosen.some((c) => c === undefined)) {
    // One provider talks to one daemon: using it for every host would put all
    // members on one machine, and building the rest would ignore the caller.
    const missing = plans.filter((_, i) => chosen[i] === undefined).map((p) => p.url);
    throw new pulumi.ResourceError(
      `the component was given one docker provider but the cluster has ${plans.length} Docker hosts: pass one per host in dockerHosts (missing: ${missing.join(', ')})`,
      parent,
    );
  }
  return chosen;
}

export function networkName(name: string, platform: DockerPlatform): string {
  return platform.network ?? `${name}-net`;
}

/** One provider (the caller's, or one built from the host URL) and one bridge network per host. */
export function createHosts(
  name: string,
  platform: DockerPlatform,
  plans: readonly HostPlan[],
  given: readonly (pulumi.ProviderResource | undefined)[],
  parent: pulumi.Resource,
): HostResources[] {
  return plans.map((plan) => {
    const provider = given[plan.index] ?? new docker.Provider(`${name}-host-${plan.index}`, { host: plan.url }, { parent });
    const network = new docker.Network(
      `${name}-net-${plan.index}`,
      {
        name: networkName(name, platform),
        driver: 'bridge',
        ipamConfigs: plan.subnet
          ? [{ subnet: plan.subnet, gateway: inSubnet(plan.subnet, 1), ipRange: `${inSubnet(plan.subnet, DYNAMIC_RANGE.offset)}/${DYNAMIC_RANGE.prefix}` }]
          : undefined,
        // Routed: other hosts reach the containers' addresses directly (Docker Engine 28+).
        options: plan.subnet ? { 'com.docker.network.bridge.gateway_mode_ipv4': 'routed' } : undefined,
        labels: [
          { label: 'mailfleet.cluster', value: name },
          { label: 'mailfleet.host', value: String(plan.index) },
        ],
      },
      { parent, provider },
    );
    return { plan, provider, network };
  });
}
