import type { PolicyResource, StackValidationPolicy } from '@pulumi/policy';
import { configOf } from '../lib/config';
import { containersOf, podSpecOf, roleOf } from '../lib/platform';
import { PROXMOX, VSPHERE } from '../lib/tokens';
import { clustersOf, label, pairsOf, reportUnreadable, roleSize } from '../lib/topology';
import { at, num, str } from '../lib/walk';

/**
 * 9. Resource floors. A container without requests is scheduled anywhere and
 * evicted first; one without limits can starve its neighbours. A mail node
 * VM below its floor swaps under IMAP load and misses its lease heartbeats,
 * which makes the hub reassign its mailboxes: sizing is an availability rule.
 */

type Floor = { cpu: number; memoryMiB: number };
type VmRole = 'hub' | 'node' | 'gateway' | 'proxy' | 'lb' | 'all';

const DEFAULTS = {
  vmMinimums: {
    hub: { cpu: 1, memoryMiB: 1024 },
    node: { cpu: 2, memoryMiB: 2048 },
    gateway: { cpu: 1, memoryMiB: 1024 },
    proxy: { cpu: 1, memoryMiB: 512 },
    lb: { cpu: 1, memoryMiB: 512 },
    all: { cpu: 2, memoryMiB: 4096 },
  } as Record<VmRole, Floor>,
  /** Resource names every Kubernetes container must request and limit. */
  kubernetesResources: ['cpu', 'memory'] as string[],
};

const VM_PLATFORMS = new Set(['proxmox', 'vsphere']);

/** vCPUs and memory of a VM resource as the provider will create it. */
function vmSize(r: PolicyResource): { cpu?: number; memoryMiB?: number } | undefined {
  if (r.type === PROXMOX.vmLegacy) {
    const cores = num(at(r.props, 'cpu', 'cores'));
    const sockets = num(at(r.props, 'cpu', 'sockets')) ?? 1;
    return { cpu: cores === undefined ? undefined : cores * sockets, memoryMiB: num(at(r.props, 'memory', 'dedicated')) };
  }
  if (r.type === VSPHERE.virtualMachine) return { cpu: num(at(r.props, 'numCpus')), memoryMiB: num(at(r.props, 'memory')) };
  return undefined;
}

const below = (size: { cpu?: number; memoryMiB?: number }, floor: Floor) =>
  (size.cpu !== undefined && size.cpu < floor.cpu) || (size.memoryMiB !== undefined && size.memoryMiB < floor.memoryMiB);

const fmt = (s: { cpu?: number; memoryMiB?: number }) => `${s.cpu ?? '?'} vCPU / ${s.memoryMiB ?? '?'} MiB`;

export const resourceFloors: StackValidationPolicy = {
  name: 'resource-floors',
  description: 'Kubernetes containers declare CPU and memory requests and limits; VMs meet the per-role minimum vCPUs and memory.',
  enforcementLevel: 'mandatory',
  tags: ['capacity', 'kubernetes', 'proxmox', 'vsphere'],
  remediationSteps: 'Raise <role>.cpu / <role>.memoryMiB (or loadBalancer.cpu / memoryMiB) in the spec to the floor, or lower the floor in the policy config (vmMinimums).',
  configSchema: {
    properties: {
      vmMinimums: {
        type: 'object',
        description: 'Per-role VM floors: { "<hub|node|gateway|proxy|lb|all>": { "cpu": n, "memoryMiB": n } }.',
        additionalProperties: {
          type: 'object',
          properties: { cpu: { type: 'number', minimum: 0 }, memoryMiB: { type: 'integer', minimum: 0 } },
          required: ['cpu', 'memoryMiB'],
        },
      },
      kubernetesResources: { type: 'array', items: { type: 'string' }, default: DEFAULTS.kubernetesResources },
    },
  },
  validateStack: (args, reportViolation) => {
    const cfg = configOf(args, DEFAULTS);
    const floors = { ...DEFAULTS.vmMinimums, ...cfg.vmMinimums } as Record<VmRole, Floor>;

    // Every Kubernetes container in the stack: requests and limits.
    for (const r of args.resources) {
      const pod = podSpecOf(r);
      if (!pod) continue;
      for (const c of containersOf(pod)) {
        const res = c.container.resources;
        const missing: string[] = [];
        for (const kind of ['requests', 'limits'] as const) {
          for (const name of cfg.kubernetesResources) {
            const q = at(res, kind, name);
            if (q === undefined || q === null || (typeof q === 'string' && q.trim() === '')) missing.push(`${kind}.${name}`);
          }
        }
        if (missing.length > 0) {
          reportViolation(`"${r.name}" ${c.where} (${c.name}) has no ${missing.join(', ')}: set resources.requests and resources.limits so the scheduler places it and the kubelet cannot starve it.`, r.urn);
        }
      }
    }

    const clusters = clustersOf(args);
    const pairs = pairsOf(args);
    reportUnreadable([...clusters.unreadable, ...pairs.unreadable], reportViolation);
    for (const c of clusters.views) {
      if (!VM_PLATFORMS.has(c.spec.platform?.kind)) continue;
      const specOk = new Map<VmRole, boolean>();
      for (const role of ['hub', 'node', 'gateway', 'proxy'] as const) {
        const size = roleSize(c.spec, role);
        if (!size || typeof size !== 'object') continue;
        const floor = floors[role];
        const ok = !below({ cpu: size.cpu, memoryMiB: size.memoryMiB }, floor);
        specOk.set(role, ok);
        if (!ok) {
          reportViolation(`cluster ${label(c)}: ${role} VMs are sized ${fmt(size)}, below the ${role} floor of ${fmt(floor)}; raise ${role === 'proxy' ? 'proxies' : `${role}s`}.cpu / .memoryMiB.`, c.resource.urn);
        }
      }
      const lb = c.spec.loadBalancer;
      if (lb?.kind === 'haproxy') {
        const ok = !below({ cpu: lb.cpu, memoryMiB: lb.memoryMiB }, floors.lb);
        specOk.set('lb', ok);
        if (!ok) reportViolation(`cluster ${label(c)}: HAProxy VMs are sized ${fmt({ cpu: lb.cpu, memoryMiB: lb.memoryMiB })}, below the floor of ${fmt(floors.lb)}; raise loadBalancer.cpu / memoryMiB.`, c.resource.urn);
      }
      // The VMs themselves (a program may size them apart from the spec).
      for (const r of c.descendants) {
        const size = vmSize(r);
        const role = size ? roleOf(c, r) : undefined;
        if (!size || !role || specOk.get(role) === false) continue;
        const floor = floors[role];
        if (floor && below(size, floor)) {
          reportViolation(`VM "${r.name}" (${role}) is sized ${fmt(size)}, below the ${role} floor of ${fmt(floor)}.`, r.urn);
        }
      }
    }
    for (const p of pairs.views) {
      for (const side of ['primary', 'standby'] as const) {
        const site = p.spec[side];
        if (!site || !VM_PLATFORMS.has(str(site.platform?.kind) ?? '')) continue;
        const size = site.member;
        if (size && typeof size === 'object' && below({ cpu: size.cpu, memoryMiB: size.memoryMiB }, floors.all)) {
          reportViolation(`failover pair ${label(p)}: the ${side} member is sized ${fmt(size)}, below the all-roles floor of ${fmt(floors.all)}; raise ${side}.member.cpu / memoryMiB.`, p.resource.urn);
        }
      }
    }
  },
};
