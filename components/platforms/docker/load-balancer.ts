import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { mailHaproxyConfig, renderHaproxyConfig, type MailService } from '../../haproxy';
import { STANDARD_PORTS, mxProxyProtocol, type RenderedMember } from '../../render';
import type { ClusterSpec } from '../../spec';
import { CLIENT_PORTS, type ClientPort, type LoadBalancerArgs, type LoadBalancerOut } from '../types';
import { staticAddress, type HostPlan, type HostResources } from './network';
import { UNPRIVILEGED_PORTS_SYSCTL } from './workload';

/**
 * HAProxy pinned to an exact release AND its multi-arch index digest (the
 * docker-library "repo-info" record of haproxy:3.2.19, an LTS branch). The
 * image runs as the unprivileged `haproxy` user with /var/lib/haproxy as its
 * writable home. Bump version and digest together.
 */
export const HAPROXY_IMAGE = 'haproxy:3.2.19@sha256:e1772575b654e31e80d0833cf5f15b7eba86f06e688ca6ae56f3e10dd913afe9';
export const HAPROXY_CONFIG_FILE = '/usr/local/etc/haproxy/haproxy.cfg';
/** Docker's embedded DNS, reachable from every container on a user-defined network. */
export const DOCKER_DNS = '127.0.0.11';

export interface LoadBalancerContext {
  name: string;
  spec: ClusterSpec;
  members: readonly RenderedMember[];
  hosts: readonly HostResources[];
  plans: readonly HostPlan[];
}

/** Host port for each client port: the standard port plus platform.publishOffset. */
export function publishedPorts(offset: number): Record<ClientPort, number> {
  return Object.fromEntries(CLIENT_PORTS.map((p) => [p, STANDARD_PORTS[p] + offset])) as Record<ClientPort, number>;
}

/** How many HAProxy containers: one per host at most (two on one host would fight over the published ports). */
export function haproxyReplicas(spec: ClusterSpec, hosts: number): number {
  return spec.loadBalancer.kind === 'haproxy' ? Math.min(spec.loadBalancer.replicas, hosts) : 0;
}

/** The haproxy.cfg for the cluster (exported for tests and for `mailfleet render`). */
export function dockerHaproxyConfig(ctx: Pick<LoadBalancerContext, 'spec' | 'plans'>, args: Pick<LoadBalancerArgs, 'proxies' | 'gateways' | 'hubs'>) {
  const multi = ctx.plans.length > 1;
  return mailHaproxyConfig({
    proxies: args.proxies,
    gateways: args.gateways,
    hubs: args.hubs,
    admin: ctx.spec.admin.public,
    // The MX backend starts each connection with a PROXY v2 header naming the sender, which the gateways trust (render.ts proxyProtocolWiring).
    sendProxyV2: mxProxyProtocol(ctx.spec),
    // One host: container names through Docker's DNS, re-resolved at run time
    // (a restarted container may get another address). Several hosts: the
    // members' fixed addresses.
    addressOf: (m) => (multi ? staticAddress(m.role as 'hub' | 'node' | 'gateway' | 'proxy', m.index, ctx.plans) ?? m.address : m.address),
    base: {
      statsSocket: { path: '/var/lib/haproxy/admin.sock' },
      resolvers: multi ? undefined : { name: 'docker', nameservers: [{ address: DOCKER_DNS, port: 53 }] },
    },
  });
}

export function createLoadBalancer(ctx: LoadBalancerContext, args: LoadBalancerArgs, parent: pulumi.Resource): LoadBalancerOut {
  const spec = ctx.spec;
  const platform = spec.platform.kind === 'docker' ? spec.platform : undefined;
  const offset = platform?.publishOffset ?? 0;
  const lb = spec.loadBalancer;
  if (lb.kind === 'external') {
    return { resources: [], address: pulumi.output(lb.address), ports: publishedPorts(0) };
  }
  if (lb.kind !== 'haproxy') {
    throw new pulumi.ResourceError(`loadBalancer.kind: "${lb.kind}" is not available on docker; use haproxy or external`, parent);
  }
  const replicas = haproxyReplicas(spec, ctx.hosts.length);
  if (replicas < lb.replicas) {
    void pulumi.log.warn(`loadBalancer.replicas is ${lb.replicas} but there are ${ctx.hosts.length} Docker host(s): running ${replicas} HAProxy container(s), one per host`, parent);
  }
  const plan = dockerHaproxyConfig(ctx, args);
  let text: string;
  try {
    text = renderHaproxyConfig(plan.config);
  } catch (err) {
    throw new pulumi.ResourceError(`load balancer config: ${err instanceof Error ? err.message : String(err)}`, parent);
  }
  // Admin (443) is in the plan only when spec.admin.public; publish exactly what HAProxy serves.
  const services = Object.entries(plan.services) as [MailService, number][];
  const resources: pulumi.Resource[] = [];
  for (let j = 0; j < replicas; j++) {
    const h = ctx.hosts[j]!;
    const image = new docker.RemoteImage(`${ctx.name}-lb-image-${j}`, { name: HAPROXY_IMAGE, keepLocally: true }, { parent, provider: h.provider });
    const container = new docker.Container(
      `${ctx.name}-lb-${j}`,
      {
        name: `${ctx.name}-lb-${j}`,
        image: image.imageId,
        restart: 'unless-stopped',
        uploads: [{ file: HAPROXY_CONFIG_FILE, content: text, permissions: '0444' }],
        ports: services.map(([, port]) => ({ internal: port, external: port + offset, protocol: 'tcp' })),
        networksAdvanced: [{ name: h.network.name, ipv4Address: staticAddress('loadBalancer', j, ctx.plans) }],
        sysctls: { ...UNPRIVILEGED_PORTS_SYSCTL },
        memory: lb.memoryMiB,
        cpus: String(lb.cpu),
        logDriver: 'json-file',
        logOpts: { 'max-size': '20m', 'max-file': '5' },
        labels: [
          { label: 'mailfleet.cluster', value: ctx.name },
          { label: 'mailfleet.role', value: 'load-balancer' },
        ],
      },
      { parent, provider: h.provider, dependsOn: args.dependsOn },
    );
    resources.push(image, container);
  }
  return {
    resources,
    address: pulumi.output(ctx.hosts[0]!.plan.address),
    ports: publishedPorts(offset),
  };
}
