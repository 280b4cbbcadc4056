import * as pulumi from '@pulumi/pulumi';
import { cidrContains, ipv4ToInt } from '../../../mail-runtime/config';
import { vmAddress } from '../../render';
import { VM_ADDRESS_BLOCKS, VM_ADDRESS_BLOCK_SIZE, type ClusterSpec, type PlatformOf } from '../../spec';
import type { ClusterContext } from '../types';

/**
 * Checks the spec cannot express but Proxmox needs, before anything is
 * created. Each error names the field.
 */

/** Proxmox VM ids are 100–999999999. */
const MAX_VM_ID = 999_999_999;
/** Proxmox HA group ids are "pve-configid": a letter, then letters, digits, - and _. */
const HA_GROUP_ID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export function haGroupName(spec: ClusterSpec & { platform: PlatformOf<'proxmox'> }): string {
  return spec.platform.haGroup ?? `mailfleet-${spec.name}`;
}

export function validateProxmox(ctx: ClusterContext<'proxmox'>, parent: pulumi.Resource): void {
  const { spec } = ctx;
  const p = spec.platform;
  const fail = (field: string, message: string): never => {
    throw new pulumi.ResourceError(`${field}: ${message}`, parent);
  };

  const seen = new Set<string>();
  p.nodes.forEach((n, i) => {
    if (seen.has(n)) fail(`platform.nodes[${i}]`, `"${n}" is listed twice; each Proxmox node once`);
    seen.add(n);
  });
  if (spec.storage.kind !== 'nfs') fail('storage.kind', `"${spec.storage.kind}" is not available on proxmox; use nfs`);
  if (!HA_GROUP_ID.test(haGroupName(spec))) fail('platform.haGroup', 'must start with a letter and hold only letters, digits, "-" and "_" (at most 64)');

  const lastVmId = p.firstVmId + VM_ADDRESS_BLOCKS.node + spec.nodes.count - 1;
  if (lastVmId > MAX_VM_ID) fail('platform.firstVmId', `VM ids would run past ${MAX_VM_ID}`);

  const lb = spec.loadBalancer;
  if (lb.kind === 'haproxy') {
    if (lb.replicas > VM_ADDRESS_BLOCK_SIZE.loadBalancer) {
      fail('loadBalancer.replicas', `at most ${VM_ADDRESS_BLOCK_SIZE.loadBalancer} load balancers fit the VM address plan`);
    }
    if (lb.vip !== undefined) {
      if (lb.replicas < 2) fail('loadBalancer.replicas', 'a VIP moves between load balancers: use at least 2 replicas (or drop vip)');
      if (!cidrContains(p.network.cidr, lb.vip)) fail('loadBalancer.vip', `${lb.vip} is outside ${p.network.cidr}`);
      const taken = new Map<string, string>([[p.network.gateway, 'the gateway']]);
      for (const m of ctx.members) taken.set(m.address, m.memberId);
      for (let i = 0; i < lb.replicas; i++) taken.set(vmAddress(p.network, 'loadBalancer', i), `load balancer ${i}`);
      const owner = taken.get(lb.vip);
      if (owner) fail('loadBalancer.vip', `${lb.vip} is already used by ${owner}`);
    }
  } else if (lb.kind === 'kubernetes-service') {
    fail('loadBalancer.kind', 'kubernetes-service is not available on proxmox; use haproxy or external');
  }
  if (ipv4ToInt(p.network.gateway) === ipv4ToInt(vmAddress(p.network, 'hub', 0))) {
    fail('platform.network.firstAddress', 'the first hub would get the gateway address');
  }
}
