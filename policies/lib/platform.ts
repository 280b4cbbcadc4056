import type { PolicyResource } from '@pulumi/policy';
import type { Role } from './spec';
import { K8S_POD_TEMPLATE_PATHS } from './tokens';
import { memberOf } from './topology';
import { at, entries, isRecord, items, str } from './walk';

/**
 * Reading platform resources: pod specs and containers of Kubernetes
 * workloads, Docker labels, and which role a resource belongs to.
 */

/** The pod spec of a Kubernetes workload (Pod, Deployment, StatefulSet, Job...), or undefined. */
export function podSpecOf(r: PolicyResource): Record<string, unknown> | undefined {
  const path = K8S_POD_TEMPLATE_PATHS[r.type];
  if (!path) return undefined;
  const spec = at(r.props, ...path);
  return isRecord(spec) ? spec : undefined;
}

export interface ContainerView {
  /** `containers[0]` / `initContainers[1]`... */
  where: string;
  name: string;
  container: Record<string, unknown>;
}

/** Containers, init containers and ephemeral containers of a pod spec. */
export function containersOf(podSpec: Record<string, unknown>): ContainerView[] {
  const out: ContainerView[] = [];
  for (const list of ['initContainers', 'containers'] as const) {
    items(podSpec[list]).forEach((c, i) => {
      if (isRecord(c)) out.push({ where: `${list}[${i}]`, name: str(c.name) ?? `#${i}`, container: c });
    });
  }
  return out;
}

const K8S_COMPONENT_LABEL = 'app.kubernetes.io/component';
const ROLES: readonly string[] = ['hub', 'node', 'gateway', 'proxy'];

/**
 * The appliances beside the gateways (clamd, freshclam, rspamd; one VM per
 * site on VM platforms) are children of the Gateway component, named after
 * it (`${cluster}-gateway-clamd-0-deployment`, `${cluster}-gateway-appliance-0`):
 * they belong to no member role, and the role rules leave them be.
 */
const APPLIANCE_NAME = /^gateway-(clamd|rspamd|freshclam|appliance)-\d+(?:-|$)/;

/**
 * Role of a resource of a cluster: from its name (`${cluster}-<role>-<i>` or
 * `${cluster}-<role>-...`), its Kubernetes component label, or its Docker
 * `mailfleet.role` label.
 */
export function roleOf(view: { name: string; spec: { name?: string } }, r: PolicyResource): Role | 'lb' | 'all' | undefined {
  for (const prefix of new Set([view.name, view.spec.name])) {
    if (!prefix) continue;
    const m = memberOf(prefix, r.name);
    if (m) return m.role;
    const rest = r.name.startsWith(`${prefix}-`) ? r.name.slice(prefix.length + 1) : '';
    if (APPLIANCE_NAME.test(rest)) return undefined;
    const role = /^(hub|node|gateway|proxy)(?:-|$)/.exec(rest)?.[1];
    if (role) return role as Role;
  }
  const label = str(at(r.props, 'metadata', 'labels', K8S_COMPONENT_LABEL));
  if (label && ROLES.includes(label)) return label as Role;
  for (const l of items(at(r.props, 'labels'))) {
    if (str(at(l, 'label')) === 'mailfleet.role') {
      const v = str(at(l, 'value'));
      if (v && [...ROLES, 'all'].includes(v)) return v as Role;
    }
  }
  return undefined;
}

/** The provider a resource is managed by: its URN (explicit provider) or `default` (the ambient one). */
export function providerKey(r: PolicyResource): string {
  return r.provider?.urn ?? 'default';
}

/** Environment variables of a container as name → literal value (undefined for valueFrom). */
export function envOf(container: Record<string, unknown>): Array<{ name: string; value?: string; fromSecret: boolean }> {
  return items(container.env).flatMap((e) => {
    if (!isRecord(e)) return [];
    const name = str(e.name) ?? '';
    const value = str(e.value);
    const fromSecret = isRecord(at(e, 'valueFrom', 'secretKeyRef'));
    return [{ name, value, fromSecret }];
  });
}

/** `KEY=value` strings (Docker `envs`) as pairs. */
export function dockerEnvOf(r: PolicyResource): Array<{ name: string; value: string }> {
  return items(at(r.props, 'envs')).flatMap((e) => {
    const s = str(e);
    if (s === undefined) return [];
    const i = s.indexOf('=');
    return [{ name: i >= 0 ? s.slice(0, i) : s, value: i >= 0 ? s.slice(i + 1) : '' }];
  });
}

/** Labels and annotations (Kubernetes metadata, Docker labels) as key/value pairs. */
export function labelsOf(r: PolicyResource): Array<{ key: string; value: string }> {
  const out: Array<{ key: string; value: string }> = [];
  for (const field of ['labels', 'annotations'] as const) {
    for (const [k, v] of entries(at(r.props, 'metadata', field))) if (typeof v === 'string') out.push({ key: k, value: v });
  }
  for (const l of items(at(r.props, 'labels'))) {
    const key = str(at(l, 'label'));
    const value = str(at(l, 'value'));
    if (key !== undefined && value !== undefined) out.push({ key, value });
  }
  return out;
}
