import type { PolicyResource, ReportViolation, StackValidationArgs } from '@pulumi/policy';
import type { ClusterSpec, FailoverPairSpec, Role, RoleSize } from './spec';
import { COMPONENT } from './tokens';
import { isRecord, read } from './walk';

/**
 * The topology a stack deploys, as the policies see it: every MailCluster
 * and FailoverSite component with the validated spec it registered as its
 * `spec` output (a FailoverSite registers the whole pair's spec), and the
 * resources underneath it.
 *
 * Spec-level rules read the spec (what the operator asked for); resource-level
 * rules read the platform resources under the component (what will actually
 * be created), so a hand-built or modified program is held to the same rules.
 */

export interface TopologyView<S> {
  resource: PolicyResource;
  /** Component (Pulumi resource) name: the prefix of its children's names. */
  name: string;
  spec: S;
  /** Every resource below the component (children, grandchildren...). */
  descendants: PolicyResource[];
}

export type ClusterView = TopologyView<ClusterSpec>;
export type PairView = TopologyView<FailoverPairSpec>;

function childrenIndex(resources: readonly PolicyResource[]): Map<string, PolicyResource[]> {
  const byParent = new Map<string, PolicyResource[]>();
  for (const r of resources) {
    const parent = r.parent?.urn ?? r.opts?.parent;
    if (!parent) continue;
    byParent.set(parent, [...(byParent.get(parent) ?? []), r]);
  }
  return byParent;
}

/** Every resource below `root` (bounded: the parent graph is a tree, but a bad input must not loop). */
export function descendantsOf(root: PolicyResource, resources: readonly PolicyResource[]): PolicyResource[] {
  const byParent = childrenIndex(resources);
  const out: PolicyResource[] = [];
  const seen = new Set<string>([root.urn]);
  const queue = [root.urn];
  while (queue.length > 0 && out.length <= resources.length) {
    const urn = queue.shift()!;
    for (const child of byParent.get(urn) ?? []) {
      if (seen.has(child.urn)) continue;
      seen.add(child.urn);
      out.push(child);
      queue.push(child.urn);
    }
  }
  return out;
}

/** Reads the `spec` output; undefined when it is missing or not a mapping (older components, unknown in preview). */
function specOf(r: PolicyResource): Record<string, unknown> | undefined {
  const spec = read(r.props, 'spec');
  return isRecord(spec) ? spec : undefined;
}

function views<S>(type: string, args: Pick<StackValidationArgs, 'resources'>, looksRight: (s: Record<string, unknown>) => boolean): { views: TopologyView<S>[]; unreadable: PolicyResource[] } {
  const out: TopologyView<S>[] = [];
  const unreadable: PolicyResource[] = [];
  for (const r of args.resources) {
    if (r.type !== type) continue;
    const spec = specOf(r);
    if (!spec || !looksRight(spec)) {
      unreadable.push(r);
      continue;
    }
    // The spec was validated by the component; policies read it defensively
    // (optional chaining) because a hand-built resource may not be.
    out.push({ resource: r, name: r.name, spec: spec as unknown as S, descendants: descendantsOf(r, args.resources) });
  }
  return { views: out, unreadable };
}

export function clustersOf(args: Pick<StackValidationArgs, 'resources'>) {
  return views<ClusterSpec>(COMPONENT.mailCluster, args, (s) => isRecord(s.platform) && typeof s.platform.kind === 'string');
}

/** The sites of failover pairs this stack deploys (one FailoverSite per site stack). */
export function pairsOf(args: Pick<StackValidationArgs, 'resources'>) {
  return views<FailoverPairSpec>(COMPONENT.failoverSite, args, (s) => isRecord(s.primary) && isRecord(s.standby));
}

/**
 * The primary's facts a standby FailoverSite copied into its `primary`
 * output (StackReference reads are invisible to stack policies, so the
 * component repeats what it relied on). Every field optional: read defensively.
 */
export interface PrimaryFactsView {
  pair?: string;
  site?: string;
  memberId?: string;
  platformEndpoints?: readonly string[];
  storage?: string;
  leaseDir?: string;
}

/** Which site a FailoverSite builds, its member's state and (standby) the primary facts it copied. */
export function siteOf(v: PairView): { side?: 'primary' | 'standby'; state?: string; primary?: PrimaryFactsView } {
  const side = read(v.resource.props, 'site');
  const state = read(v.resource.props, 'state');
  const primary = read(v.resource.props, 'primary');
  return {
    side: side === 'primary' || side === 'standby' ? side : undefined,
    state: typeof state === 'string' ? state : undefined,
    primary: isRecord(primary) ? (primary as PrimaryFactsView) : undefined,
  };
}

/**
 * Reports components whose spec cannot be read: the rule cannot vouch for
 * them, and silence would read as a pass.
 */
export function reportUnreadable(unreadable: readonly PolicyResource[], reportViolation: ReportViolation): void {
  for (const r of unreadable) {
    reportViolation(
      `${r.type} "${r.name}" has no readable "spec" output, so this rule cannot check it; deploy it with the mailfleet components (they register the validated spec) or fix the program that builds it.`,
      r.urn,
    );
  }
}

/** The environments the HA rules hold to their minimums unless the policy config says otherwise. */
export const DEFAULT_STRICT_ENVIRONMENTS = ['production'] as const;

/** Member role and index from a resource name `${cluster}-<role>-<i>[-suffix]`. */
export function memberOf(clusterName: string, resourceName: string): { role: Role | 'lb' | 'all'; index: number } | undefined {
  if (!resourceName.startsWith(`${clusterName}-`)) return undefined;
  const rest = resourceName.slice(clusterName.length + 1);
  const m = /^(hub|node|gateway|proxy|lb|all)-(\d+)(?:$|-)/.exec(rest);
  if (!m) return undefined;
  return { role: m[1] as Role | 'lb' | 'all', index: Number(m[2]) };
}

/** `count` of a role in a cluster spec (tolerant of missing fields). */
export function roleCount(spec: ClusterSpec, role: Role): number {
  const key = ({ hub: 'hubs', node: 'nodes', gateway: 'gateways', proxy: 'proxies' } as const)[role];
  return Number(spec[key]?.count ?? 0);
}

/** Sizes by role as the spec asks for them. */
export function roleSize(spec: ClusterSpec, role: Role): RoleSize | undefined {
  const key = ({ hub: 'hubs', node: 'nodes', gateway: 'gateways', proxy: 'proxies' } as const)[role];
  return spec[key];
}

/** Human label for a cluster in messages. */
export function label(view: { name: string; spec: unknown }): string {
  const name = read(view.spec, 'name');
  const specName = typeof name === 'string' && name !== view.name ? ` (spec name "${name}")` : '';
  return `"${view.name}"${specName}`;
}
