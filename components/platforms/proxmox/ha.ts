import * as proxmox from '@muhlba91/pulumi-proxmoxve';
import type * as pulumi from '@pulumi/pulumi';
import type { ClusterSpec, PlatformOf } from '../../spec';
import { haGroupName } from './validate';

type ProxmoxSpec = ClusterSpec & { platform: PlatformOf<'proxmox'> };

/**
 * Proxmox HA for the cluster's VMs: every VM is an HA resource (restarted on
 * another host when its host fails), confined to `platform.nodes`.
 *
 * - Proxmox VE 8: one HA group over `platform.nodes` (restricted, equal
 *   priorities, no failback), and every HA resource names it.
 * - Proxmox VE 9 replaced groups with HA rules (@muhlba91/pulumi-proxmoxve
 *   `Harule`, `proxmoxve:index/harule:Harule`). Per role: one strict
 *   node-affinity rule over `platform.nodes` (what the restricted group was)
 *   and negative resource-affinity rules, so HA never restarts a failed
 *   host's member next to another member of its role — a group could not
 *   express that.
 *
 * What Proxmox's HA manager accepts (pve-ha-manager src/PVE/HA/Rules.pm,
 * Rules/ResourceAffinity.pm, Rules/NodeAffinity.pm), which a rule must meet
 * or the manager ignores it ("ignored (conflicts)" in `ha-manager rules config`):
 * - a resource is in at most one node-affinity rule: one rule per role;
 * - a node-affinity rule paired with resource-affinity rules has one priority
 *   class: every node gets priority 1;
 * - a negative rule has 2 or more resources and no more than the nodes its
 *   resources may use: members are split into chunks of `platform.nodes.length`
 *   (k·n … k·n+n−1, which round-robin placement puts on n distinct hosts);
 *   a chunk of one member needs no rule;
 * - rule resources must already be HA resources: rules depend on them.
 */

/** The cluster-wide HA objects the session creates before any VM. */
export type HaSetup = { version: 8; group: proxmox.Hagroup } | { version: 9 };

/** Equal priority on every node: HA may restart a VM on any surviving node, and Proxmox 9 pairs only single-priority node-affinity rules with resource-affinity rules. */
function nodePriorities(spec: ProxmoxSpec): Record<string, number> {
  return Object.fromEntries(spec.platform.nodes.map((n) => [n, 1]));
}

/** The HA id of a VM (`vm:<vmid>`), as HA resources and rules name it. */
function haResourceId(vmId: number): string {
  return `vm:${vmId}`;
}

/** On Proxmox VE 8, the one HA group of the cluster; nothing on 9 (rules are per role, see haRules). */
export function haSetup(name: string, spec: ProxmoxSpec, opts: pulumi.CustomResourceOptions): HaSetup {
  if (spec.platform.proxmoxVersion === 9) return { version: 9 };
  const group = new proxmox.Hagroup(
    `${name}-ha-group`,
    {
      group: haGroupName(spec),
      comment: `mailfleet cluster ${spec.name}`,
      nodes: nodePriorities(spec),
      // Never run the mail VMs outside the listed nodes.
      restricted: true,
      // Do not move a VM back when its node returns: a migration is a needless interruption.
      noFailback: true,
    },
    opts,
  );
  return { version: 8, group };
}

/** The HA resource that keeps one VM started: a member of the group on 8; on 9 the role's rules place it. */
export function haResource(
  ha: HaSetup,
  a: { resourceName: string; vmId: number; hostname: string },
  opts: pulumi.CustomResourceOptions,
): proxmox.Haresource {
  return new proxmox.Haresource(
    `${a.resourceName}-ha`,
    {
      resourceId: haResourceId(a.vmId),
      ...(ha.version === 8
        ? { group: ha.group.group }
        : // Same choice as the group's noFailback: moving a running member back is a needless interruption (Proxmox VE 9 option).
          { failback: false }),
      state: 'started',
      comment: `mailfleet ${a.hostname}`,
      maxRestart: 3,
      maxRelocate: 1,
    },
    opts,
  );
}

/** Members 0..count-1 in chunks of `size` (k·size … k·size+size−1); chunks of one are dropped. */
function apartChunks<T>(members: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < members.length; i += size) chunks.push(members.slice(i, i + size));
  return chunks.filter((c) => c.length >= 2);
}

/**
 * Proxmox VE 9: the HA rules of one role (`hub`, `node`, `gateway`, `proxy`
 * or `lb`). Empty on 8, where the group does this job. Rule ids are
 * `<haGroup>-<role>-nodes` and `<haGroup>-<role>-apart-<k>`: chunk k keeps its
 * id while the role scales, so scaling adds rules instead of renaming them.
 */
export function haRules(
  ha: HaSetup,
  base: { name: string; spec: ProxmoxSpec },
  role: string,
  vms: readonly { vmId: number; ha: proxmox.Haresource }[],
  opts: pulumi.CustomResourceOptions,
): proxmox.Harule[] {
  if (ha.version !== 9 || vms.length === 0) return [];
  const { spec, name } = base;
  const prefix = haGroupName(spec);
  const ruleOpts = (members: readonly { ha: proxmox.Haresource }[]): pulumi.CustomResourceOptions => ({
    ...opts,
    // "The resources must already be managed by HA" (the rule's API).
    dependsOn: members.map((m) => m.ha),
  });
  const nodes = new proxmox.Harule(
    `${name}-${role}-ha-nodes`,
    {
      rule: `${prefix}-${role}-nodes`,
      type: 'node-affinity',
      comment: `mailfleet ${spec.name}: ${role} VMs run only on ${spec.platform.nodes.join(', ')}`,
      resources: vms.map((v) => haResourceId(v.vmId)),
      nodes: nodePriorities(spec),
      // Restricted, like the group on 8: never run a mail VM outside the listed nodes.
      strict: true,
    },
    ruleOpts(vms),
  );
  const apart = apartChunks(vms, new Set(spec.platform.nodes).size).map(
    (chunk, k) =>
      new proxmox.Harule(
        `${name}-${role}-ha-apart-${k}`,
        {
          rule: `${prefix}-${role}-apart-${k}`,
          type: 'resource-affinity',
          affinity: 'negative',
          comment: `mailfleet ${spec.name}: these ${role} VMs on different hosts, so one host failure takes at most one`,
          resources: chunk.map((v) => haResourceId(v.vmId)),
        },
        ruleOpts(chunk),
      ),
  );
  return [nodes, ...apart];
}
