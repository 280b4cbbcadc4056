import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import { createHash } from 'node:crypto';
import { loadBalancerUserData } from '../../cloud-init';
import { KEEPALIVED_AUTH_FILE, VRRP_PASS_MAX, mailHaproxyConfig, renderHaproxyConfig, renderKeepalivedAuthFile, renderKeepalivedConfig } from '../../haproxy';
import { STANDARD_PORTS, mxProxyProtocol, vmAddress } from '../../render';
import { SpecError } from '../../spec';
import { whenComputed } from '../../computed';
import { CLIENT_PORTS, type ClientPort, type LoadBalancerArgs, type LoadBalancerOut } from '../types';
import { createVm, nodeFor, prefixLength, roleResources, type ProxmoxBase } from './vm';
import { PROXMOX_GUEST_PACKAGES, vmIdFor } from './workload';

/**
 * spec.loadBalancer on Proxmox:
 * - haproxy: `replicas` HAProxy VMs from the load-balancer address block
 *   (TCP passthrough to proxies and gateways, health checks on /readyz), and
 *   with a `vip`, keepalived moving it between them (VRRP, unicast peers).
 *   Clients use the VIP, or the first load balancer's address without one.
 * - external: the operator's own load balancer; nothing is created.
 */

/** The NIC name inside the guest: Proxmox's cloud-init network config names the first NIC eth0. */
export const GUEST_INTERFACE = 'eth0';

/** A VRRP router id (1–255) derived from the cluster name, so two clusters on one segment rarely collide. */
export function virtualRouterId(cluster: string): number {
  return (createHash('sha256').update(cluster).digest()[0]! % 255) + 1;
}

function standardPorts(services: Partial<Record<string, number>>): Record<ClientPort, number> {
  return Object.fromEntries(CLIENT_PORTS.map((p) => [p, services[p] ?? STANDARD_PORTS[p]])) as Record<ClientPort, number>;
}

export function proxmoxLoadBalancer(base: ProxmoxBase, args: LoadBalancerArgs, parent: pulumi.Resource): LoadBalancerOut {
  const { spec, name } = base;
  const lb = spec.loadBalancer;
  const p = spec.platform;
  if (lb.kind === 'external') {
    return { resources: [], address: pulumi.output(lb.address), ports: standardPorts({}) };
  }
  if (lb.kind !== 'haproxy') {
    throw new pulumi.ResourceError(`loadBalancer.kind: "${lb.kind}" is not available on proxmox; use haproxy or external`, parent);
  }

  let plan: ReturnType<typeof mailHaproxyConfig>;
  let haproxyConfig: string;
  try {
    plan = mailHaproxyConfig({ proxies: args.proxies, gateways: args.gateways, hubs: args.hubs, admin: spec.admin.public, sendProxyV2: mxProxyProtocol(spec) });
    haproxyConfig = renderHaproxyConfig(plan.config);
  } catch (err) {
    throw new pulumi.ResourceError(`loadBalancer: ${err instanceof SpecError ? err.message : String(err)}`, parent);
  }

  const addresses = Array.from({ length: lb.replicas }, (_, i) => vmAddress(p.network, 'loadBalancer', i));
  // keepalived's VRRP auth file. The password is provider-computed: rendered
  // only once the provider has filled it in (see whenComputed). Alphanumeric
  // and at most VRRP_PASS_MAX long (the slice also holds for fakes that ignore
  // `length`), so always a valid auth_pass and the render cannot throw.
  const vrrpAuthFile =
    lb.vip !== undefined
      ? pulumi.secret(
          whenComputed(new random.RandomPassword(`${name}-lb-vrrp`, { length: VRRP_PASS_MAX, special: false }, { parent }).result, (p) =>
            renderKeepalivedAuthFile(p.slice(0, VRRP_PASS_MAX)),
          ),
        )
      : undefined;

  const vms = addresses.map((address, i) => {
    const hostname = `${spec.name}-lb-${i}`;
    let keepalivedConfig: string | undefined;
    if (lb.vip !== undefined) {
      try {
        keepalivedConfig = renderKeepalivedConfig({
          name: spec.name,
          vip: lb.vip,
          vipPrefix: prefixLength(p.network.cidr),
          interface: GUEST_INTERFACE,
          // Replica 0 is the preferred holder; the others follow in order.
          priority: 150 - 10 * i,
          virtualRouterId: virtualRouterId(spec.name),
          sourceAddress: address,
          peers: addresses.filter((a) => a !== address),
          authPassFile: KEEPALIVED_AUTH_FILE,
        });
      } catch (err) {
        throw new pulumi.ResourceError(`loadBalancer: ${err instanceof SpecError ? err.message : String(err)}`, parent);
      }
    }
    const userData = loadBalancerUserData({
      hostname,
      domain: p.network.searchDomain,
      haproxyConfig,
      keepalivedConfig,
      extraFiles: vrrpAuthFile ? [{ path: KEEPALIVED_AUTH_FILE, content: vrrpAuthFile }] : [],
      extraPackages: [...PROXMOX_GUEST_PACKAGES],
    });
    return createVm(
      base,
      {
        resourceName: `${name}-lb-${i}`,
        hostname,
        node: nodeFor(p.nodes, i),
        vmId: vmIdFor(p.firstVmId, 'loadBalancer', i),
        address,
        // HAProxy keeps no state on disk: a small root disk is enough.
        size: { cpu: lb.cpu, memoryMiB: lb.memoryMiB, diskGiB: 10 },
        userData,
        tags: ['mailfleet', spec.name, 'load-balancer'],
        description: `mailfleet HAProxy${lb.vip ? ' + keepalived' : ''} ${i} (cluster ${spec.name}); managed by Pulumi`,
      },
      parent,
    );
  });

  const resources = roleResources(base, 'lb', vms, parent);
  const address = lb.vip !== undefined ? pulumi.all(vms.map((v) => v.address)).apply(() => lb.vip!) : vms[0]!.address;
  return { resources, address, ports: standardPorts(plan.services) };
}
