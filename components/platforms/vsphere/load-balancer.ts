import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import { renderLoadBalancerUserData } from '../../cloud-init';
import { KEEPALIVED_AUTH_FILE, VRRP_PASS_MAX, mailHaproxyConfig, renderHaproxyConfig, renderKeepalivedAuthFile, renderKeepalivedConfig } from '../../haproxy';
import { STANDARD_PORTS, mxProxyProtocol, vmAddress } from '../../render';
import { SpecError } from '../../spec';
import { ipv4ToInt } from '../../../mail-runtime/config';
import { whenComputed } from '../../computed';
import { CLIENT_PORTS, type ClientPort, type ClusterContext, type LoadBalancerArgs, type LoadBalancerOut } from '../types';
import { GUEST_INTERFACE, prefixOf } from './guestinfo';
import type { Inventory } from './inventory';
import { antiAffinityRule, createVm } from './vm';

/**
 * The client-facing load balancer on vSphere: `loadBalancer.replicas` HAProxy
 * VMs (TCP passthrough to proxies and gateways, health-checked on /readyz)
 * at `firstAddress + 5 + i`, with keepalived moving `loadBalancer.vip`
 * between them, kept on different hosts by a DRS rule. With
 * `loadBalancer.kind: external` nothing is created.
 */

/** Root disk of an HAProxy VM: it keeps no state, the OS and logs fit in 10 GiB. */
export const LB_DISK_GIB = 10;

/** The HAProxy VMs' addresses, from the role address plan. */
export function lbAddresses(ctx: ClusterContext<'vsphere'>, replicas: number): string[] {
  return Array.from({ length: replicas }, (_, i) => vmAddress(ctx.spec.platform.addresses, 'loadBalancer', i));
}

/**
 * VRRP router id from the VIP (RFC 5798 §5.2.3: 1–255, unique on the
 * segment). Two VIPs of one subnet never map to the same id unless they are
 * 255 addresses apart, which no /23 or smaller subnet allows for usable hosts.
 */
export function virtualRouterIdFor(vip: string): number {
  return (ipv4ToInt(vip) % 255) + 1;
}

/** keepalived priority of replica i: the first is preferred, then in order (RFC 5798 §5.2.4, 1–254). */
export function priorityFor(index: number): number {
  return 200 - index * 10;
}

export function createLoadBalancer(inv: Inventory, ctx: ClusterContext<'vsphere'>, args: LoadBalancerArgs, parent: pulumi.Resource): LoadBalancerOut {
  const lb = ctx.spec.loadBalancer;
  const standard = Object.fromEntries(CLIENT_PORTS.map((p) => [p, STANDARD_PORTS[p]])) as Record<ClientPort, number>;
  if (lb.kind === 'external') return { resources: [], address: pulumi.output(lb.address), ports: standard };
  if (lb.kind !== 'haproxy') {
    throw new pulumi.ResourceError(`loadBalancer.kind: "${lb.kind}" is not available on vsphere; use haproxy or external`, parent);
  }
  const spec = ctx.spec;
  const net = spec.platform.addresses;
  const addresses = lbAddresses(ctx, lb.replicas);

  let haproxyConfig: string;
  let plan: ReturnType<typeof mailHaproxyConfig>;
  try {
    plan = mailHaproxyConfig({
      proxies: args.proxies,
      gateways: args.gateways,
      hubs: args.hubs,
      admin: spec.admin.public,
      sendProxyV2: mxProxyProtocol(spec),
      // On a VM, HAProxy logs to journald through /dev/log and drops root after binding.
      base: { log: 'syslog', runAs: { user: 'haproxy', group: 'haproxy' } },
    });
    haproxyConfig = renderHaproxyConfig(plan.config);
  } catch (err) {
    throw new pulumi.ResourceError(err instanceof SpecError ? err.message : String(err), parent);
  }

  // VRRP authentication keeps a neighbour pair with the same router id out; a
  // secret like any other. Letters and digits only, at most 8 (RFC 3768
  // §5.3.6.1); the slice below keeps that true whatever a fake provider
  // returns, so the render cannot throw. Provider-computed: rendered only once
  // the provider has filled it in (see whenComputed).
  const vrrpPassword = lb.vip
    ? new random.RandomPassword(`${ctx.name}-lb-vrrp-password`, { length: VRRP_PASS_MAX, special: false }, { parent }).result
    : undefined;

  const vms = addresses.map((address, i) => {
    const hostname = `${spec.name}-lb-${i}`;
    let keepalivedConfig: string | undefined;
    if (lb.vip) {
      try {
        keepalivedConfig = renderKeepalivedConfig({
          name: spec.name,
          vip: lb.vip,
          vipPrefix: prefixOf(net.cidr),
          interface: GUEST_INTERFACE,
          priority: priorityFor(i),
          virtualRouterId: virtualRouterIdFor(lb.vip),
          sourceAddress: address,
          peers: addresses.filter((_, j) => j !== i),
          authPassFile: KEEPALIVED_AUTH_FILE,
        });
      } catch (err) {
        throw new pulumi.ResourceError(`loadBalancer: ${err instanceof SpecError ? err.message : String(err)}`, parent);
      }
    }
    const authFile = keepalivedConfig !== undefined && vrrpPassword ? whenComputed(vrrpPassword, (p) => renderKeepalivedAuthFile(p.slice(0, VRRP_PASS_MAX))) : pulumi.output('');
    const userData = pulumi.secret(
      authFile.apply((auth) =>
        renderLoadBalancerUserData({
          hostname,
          domain: net.searchDomain,
          haproxyConfig,
          keepalivedConfig,
          extraFiles: auth ? [{ path: KEEPALIVED_AUTH_FILE, content: auth }] : [],
        }),
      ),
    );
    return createVm(
      inv,
      spec.name,
      {
        resourceName: `${ctx.name}-lb-${i}`,
        hostname,
        purpose: 'load balancer (HAProxy + keepalived)',
        address,
        size: { cpu: lb.cpu, memoryMiB: lb.memoryMiB, diskGiB: LB_DISK_GIB },
        userData,
        network: { cidr: net.cidr, gateway: net.gateway, dns: net.dns, searchDomain: net.searchDomain },
        dependsOn: args.dependsOn,
      },
      parent,
    );
  });
  const rule = antiAffinityRule(inv, `${ctx.name}-lb-anti-affinity`, `${spec.name}-lb-anti-affinity`, vms, parent);
  const address = lb.vip ?? addresses[0]!;
  const ports = Object.fromEntries(CLIENT_PORTS.map((p) => [p, plan.services[p] ?? STANDARD_PORTS[p]])) as Record<ClientPort, number>;
  return {
    resources: rule ? [...vms, rule] : vms,
    address: pulumi.all(vms.map((vm) => vm.id)).apply(() => address),
    ports,
  };
}
