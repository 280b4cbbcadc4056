import type { PolicyResource, ReportViolation, StackValidationPolicy } from '@pulumi/policy';
import type { Role } from '../lib/spec';
import { configOf } from '../lib/config';
import { podSpecOf, providerKey, roleOf } from '../lib/platform';
import { DOCKER, K8S, PROXMOX, VSPHERE } from '../lib/tokens';
import { DEFAULT_STRICT_ENVIRONMENTS, clustersOf, label, reportUnreadable, roleCount, type ClusterView } from '../lib/topology';
import { at, isRecord, items, num, str } from '../lib/walk';

/**
 * 2. Failure domains. Two members on one host fail together; the count rule
 * (ha-minimums) is worth nothing if they do. Each platform has its own way to
 * keep a role's members apart: Kubernetes pod anti-affinity or topology
 * spread, a vSphere DRS anti-affinity rule, distinct Proxmox nodes (and on
 * Proxmox VE 9 a negative resource-affinity HA rule, so HA does not restart a
 * failed host's VM next to its peer; VE 8's HA groups cannot say that), more
 * than one Docker host.
 */

const DEFAULTS = {
  environments: [...DEFAULT_STRICT_ENVIRONMENTS] as string[],
  /** Topology keys that count as spreading pods over failure domains. */
  kubernetesTopologyKeys: ['kubernetes.io/hostname', 'topology.kubernetes.io/zone', 'topology.kubernetes.io/region'] as string[],
  /** Require hard rules (requiredDuringScheduling anti-affinity or DoNotSchedule spread, mandatory DRS rules). */
  requireHard: false,
};

type Cfg = typeof DEFAULTS;
const ROLES: readonly Role[] = ['hub', 'node', 'gateway', 'proxy'];

function kubernetesSpread(podSpec: Record<string, unknown>, cfg: Cfg): boolean {
  const keys = new Set(cfg.kubernetesTopologyKeys);
  const anti = at(podSpec, 'affinity', 'podAntiAffinity');
  const hard = items(at(anti, 'requiredDuringSchedulingIgnoredDuringExecution')).some((t) => keys.has(str(at(t, 'topologyKey')) ?? ''));
  const soft = items(at(anti, 'preferredDuringSchedulingIgnoredDuringExecution')).some((t) => keys.has(str(at(t, 'podAffinityTerm', 'topologyKey')) ?? ''));
  const spread = items(podSpec.topologySpreadConstraints).filter((t) => keys.has(str(at(t, 'topologyKey')) ?? ''));
  const hardSpread = spread.some((t) => str(at(t, 'whenUnsatisfiable')) === 'DoNotSchedule');
  return cfg.requireHard ? hard || hardSpread : hard || soft || spread.length > 0;
}

function checkKubernetes(c: ClusterView, cfg: Cfg, report: ReportViolation): void {
  const spreadKeys = c.spec.platform.kind === 'kubernetes' ? (c.spec.platform.spreadKeys ?? []) : [];
  if (!spreadKeys.some((k) => cfg.kubernetesTopologyKeys.includes(k))) {
    report(`Kubernetes cluster ${label(c)} spreads pods over ${spreadKeys.length ? spreadKeys.join(', ') : 'no topology keys'}: add kubernetes.io/hostname (and topology.kubernetes.io/zone) to platform.spreadKeys.`, c.resource.urn);
  }
  for (const r of c.descendants) {
    if (r.type !== K8S.statefulSet && r.type !== K8S.deployment) continue;
    const pod = podSpecOf(r);
    const replicas = num(at(r.props, 'spec', 'replicas')) ?? 1;
    if (!pod || replicas < 2) continue;
    if (!kubernetesSpread(pod, cfg)) {
      report(
        `${r.type.split(':').pop()} "${r.name}" runs ${replicas} pods with no ${cfg.requireHard ? 'hard ' : ''}pod anti-affinity or topology spread over ${cfg.kubernetesTopologyKeys.join(' / ')}; add one so a host failure takes at most one of them.`,
        r.urn,
      );
    }
  }
}

/** VMs by role, the HAProxy VMs (`lb`) included: a load-balancer pair on one host is one failure too. */
function vmsByRole(c: ClusterView, type: string): Map<Role | 'lb', PolicyResource[]> {
  const out = new Map<Role | 'lb', PolicyResource[]>();
  for (const r of c.descendants) {
    if (r.type !== type) continue;
    const role = roleOf(c, r);
    if (!role || role === 'all') continue;
    out.set(role, [...(out.get(role) ?? []), r]);
  }
  return out;
}

function checkVsphere(c: ClusterView, cfg: Cfg, report: ReportViolation): void {
  const rules = c.descendants.filter((r) => r.type === VSPHERE.antiAffinityRule);
  for (const [role, vms] of vmsByRole(c, VSPHERE.virtualMachine)) {
    if (vms.length < 2) continue;
    const urns = new Set(vms.map((v) => v.urn));
    // The rule names the VMs by id; its dependencies say which VMs those are.
    const covering = rules.filter((rule) => {
      const deps = [...rule.dependencies, ...Object.values(rule.propertyDependencies ?? {}).flat()];
      const covered = new Set(deps.filter((d) => urns.has(d.urn)).map((d) => d.urn));
      const ids = items(at(rule.props, 'virtualMachineIds')).length;
      return covered.size >= vms.length || (covered.size === 0 && roleOf(c, rule) === role && ids >= vms.length);
    });
    const active = covering.filter((rule) => at(rule.props, 'enabled') !== false && (!cfg.requireHard || at(rule.props, 'mandatory') === true));
    if (active.length === 0) {
      report(
        `vSphere cluster ${label(c)}: the ${vms.length} ${role} VMs have no ${covering.length ? 'enabled ' : ''}${cfg.requireHard ? 'mandatory ' : ''}DRS VM anti-affinity rule over all of them; add a ComputeClusterVmAntiAffinityRule so one ESXi host failure takes at most one of them.`,
        c.resource.urn,
      );
    }
  }
}

function checkProxmox(c: ClusterView, report: ReportViolation): void {
  const pveNodes = c.spec.platform.kind === 'proxmox' ? (c.spec.platform.nodes ?? []) : [];
  if (new Set(pveNodes).size < 2 && ROLES.some((r) => roleCount(c.spec, r) >= 2)) {
    report(`Proxmox cluster ${label(c)} places every VM on ${pveNodes[0] ? `the single Proxmox node ${pveNodes[0]}` : 'one Proxmox node'}: list at least 2 distinct nodes in platform.nodes so a host failure does not take a whole role down.`, c.resource.urn);
    return;
  }
  const version = c.spec.platform.kind === 'proxmox' ? (c.spec.platform.proxmoxVersion ?? 8) : 8;
  const apart = version === 9 ? negativeHaRules(c) : [];
  for (const [role, vms] of vmsByRole(c, PROXMOX.vmLegacy)) {
    if (vms.length < 2) continue;
    const hosts = new Set(vms.map((v) => str(at(v.props, 'nodeName'))).filter((n): n is string => Boolean(n)));
    if (hosts.size < 2) {
      report(`Proxmox cluster ${label(c)}: all ${vms.length} ${role} VMs are placed on ${[...hosts].join(', ') || 'one node'}; place them on distinct Proxmox nodes (nodeName).`, c.resource.urn);
      continue;
    }
    if (version !== 9) continue;
    // As many of the role's VMs as there are hosts must be kept apart by one rule (Proxmox ignores a negative rule with more VMs than nodes).
    const ids = new Set(vms.map((v) => num(at(v.props, 'vmId'))).filter((n): n is number => n !== undefined).map((n) => `vm:${n}`));
    const needed = Math.min(ids.size, new Set(pveNodes).size);
    if (needed >= 2 && !apart.some((rule) => rule.filter((sid) => ids.has(sid)).length >= needed)) {
      report(
        `Proxmox cluster ${label(c)} (Proxmox VE 9): no enabled negative resource-affinity HA rule keeps ${needed} of the ${ids.size} ${role} VMs on different hosts, so HA may restart a failed host's ${role} VM next to another one; keep the mailfleet HA rules or add a Harule (type resource-affinity, affinity negative) over them.`,
        c.resource.urn,
      );
    }
  }
}

/** Resource ids (`vm:<id>`) of each enabled negative resource-affinity HA rule under the cluster (Proxmox VE 9). */
function negativeHaRules(c: ClusterView): string[][] {
  return c.descendants
    .filter((r) => r.type === PROXMOX.haRule)
    .filter((r) => str(at(r.props, 'type')) === 'resource-affinity' && str(at(r.props, 'affinity')) === 'negative' && at(r.props, 'disable') !== true)
    .map((r) => items(at(r.props, 'resources')).map(str).filter((s): s is string => s !== undefined));
}

function checkDocker(c: ClusterView, report: ReportViolation): void {
  const hosts = c.spec.platform.kind === 'docker' ? (c.spec.platform.hosts ?? []) : [];
  if (new Set(hosts).size < 2) {
    report(`Docker cluster ${label(c)} runs every container on one Docker host (${hosts[0] ?? 'the local daemon'}): list at least 2 hosts in platform.hosts (with NFS-backed storage) so one host failure does not stop mail.`, c.resource.urn);
    return;
  }
  const byRole = new Map<Role, PolicyResource[]>();
  for (const r of c.descendants) {
    if (r.type !== DOCKER.container) continue;
    const role = roleOf(c, r);
    if (role && ROLES.includes(role as Role)) byRole.set(role as Role, [...(byRole.get(role as Role) ?? []), r]);
  }
  for (const [role, containers] of byRole) {
    if (containers.length < 2) continue;
    const providers = new Set(containers.map(providerKey));
    if (providers.size < 2) {
      report(`Docker cluster ${label(c)}: all ${containers.length} ${role} containers run on the same Docker host; spread them over the hosts in platform.hosts.`, c.resource.urn);
    }
  }
}

export const failureDomains: StackValidationPolicy = {
  name: 'failure-domains',
  description: 'Members of a production cluster are spread over failure domains: Kubernetes anti-affinity or topology spread, a vSphere DRS anti-affinity rule per role, distinct Proxmox nodes (kept apart by HA rules on Proxmox VE 9), more than one Docker host.',
  enforcementLevel: 'mandatory',
  tags: ['ha', 'kubernetes', 'docker', 'proxmox', 'vsphere'],
  remediationSteps: 'kubernetes: keep kubernetes.io/hostname in platform.spreadKeys; vsphere: keep the per-role anti-affinity rules; proxmox: list 2+ platform.nodes (on Proxmox VE 9 keep the negative resource-affinity HA rules); docker: list 2+ platform.hosts.',
  configSchema: {
    properties: {
      environments: { type: 'array', items: { type: 'string' }, default: DEFAULTS.environments },
      kubernetesTopologyKeys: { type: 'array', items: { type: 'string' }, default: DEFAULTS.kubernetesTopologyKeys },
      requireHard: { type: 'boolean', default: false, description: 'Accept only hard (required/DoNotSchedule/mandatory) placement rules.' },
    },
  },
  validateStack: (args, reportViolation) => {
    const cfg = configOf(args, DEFAULTS);
    const { views, unreadable } = clustersOf(args);
    reportUnreadable(unreadable, reportViolation);
    for (const c of views) {
      if (!cfg.environments.includes(c.spec.environment ?? 'development')) continue;
      if (!isRecord(c.spec.platform)) continue;
      switch (c.spec.platform.kind) {
        case 'kubernetes':
          checkKubernetes(c, cfg, reportViolation);
          break;
        case 'vsphere':
          checkVsphere(c, cfg, reportViolation);
          break;
        case 'proxmox':
          checkProxmox(c, reportViolation);
          break;
        case 'docker':
          checkDocker(c, reportViolation);
          break;
        default:
          break;
      }
    }
  },
};
