import type { StackValidationPolicy } from '@pulumi/policy';
import type { Role } from '../lib/spec';
import { configOf } from '../lib/config';
import { podSpecOf, roleOf } from '../lib/platform';
import { K8S } from '../lib/tokens';
import { DEFAULT_STRICT_ENVIRONMENTS, clustersOf, label, reportUnreadable, roleCount } from '../lib/topology';
import { at, num } from '../lib/walk';

/**
 * 1. HA minimums. One of anything is a single point of failure: a production
 * cluster keeps every role (and the load balancer) at two or more, so one
 * member can fail, be drained or be upgraded while the service stays up.
 */

const DEFAULTS = {
  environments: [...DEFAULT_STRICT_ENVIRONMENTS] as string[],
  minimums: { hubs: 2, nodes: 2, gateways: 2, proxies: 2, loadBalancerReplicas: 2 },
};

const FIELD: Record<Role, 'hubs' | 'nodes' | 'gateways' | 'proxies'> = { hub: 'hubs', node: 'nodes', gateway: 'gateways', proxy: 'proxies' };
const WHY: Record<Role, string> = {
  hub: 'a second hub keeps the directory, placement and failover decisions available while one is down',
  node: 'a second node takes over the mailboxes of a failed one',
  gateway: 'a second gateway keeps inbound MX and the outbound queue running',
  proxy: 'a second proxy keeps IMAP, POP3 and submission reachable',
};

export const haMinimums: StackValidationPolicy = {
  name: 'ha-minimums',
  description: 'A production mail cluster runs at least 2 hubs, 2 nodes, 2 gateways, 2 proxies and 2 load-balancer members, so no single failure stops mail.',
  enforcementLevel: 'mandatory',
  tags: ['ha', 'kubernetes', 'docker', 'proxmox', 'vsphere'],
  remediationSteps: 'Raise hubs/nodes/gateways/proxies .count and loadBalancer.replicas in the cluster spec to at least the minimum.',
  configSchema: {
    properties: {
      environments: { type: 'array', items: { type: 'string' }, default: DEFAULTS.environments, description: 'Spec environments held to the minimums.' },
      minimums: {
        type: 'object',
        description: 'Minimum member counts per role.',
        properties: {
          hubs: { type: 'integer', minimum: 1, default: 2 },
          nodes: { type: 'integer', minimum: 1, default: 2 },
          gateways: { type: 'integer', minimum: 1, default: 2 },
          proxies: { type: 'integer', minimum: 1, default: 2 },
          loadBalancerReplicas: { type: 'integer', minimum: 1, default: 2 },
        },
        additionalProperties: false,
      },
    },
  },
  validateStack: (args, reportViolation) => {
    const cfg = configOf(args, DEFAULTS);
    const { views, unreadable } = clustersOf(args);
    reportUnreadable(unreadable, reportViolation);
    for (const c of views) {
      const env = c.spec.environment ?? 'development';
      if (!cfg.environments.includes(env)) continue;
      for (const role of ['hub', 'node', 'gateway', 'proxy'] as const) {
        const min = cfg.minimums[FIELD[role]];
        const count = roleCount(c.spec, role);
        if (count < min) {
          reportViolation(`${env} cluster ${label(c)} runs ${count} ${role}(s): set ${FIELD[role]}.count to at least ${min} — ${WHY[role]}.`, c.resource.urn);
        }
      }
      const lb = c.spec.loadBalancer;
      if (lb?.kind === 'haproxy' && (lb.replicas ?? 1) < cfg.minimums.loadBalancerReplicas) {
        reportViolation(
          `${env} cluster ${label(c)} runs ${lb.replicas} HAProxy load balancer(s): set loadBalancer.replicas to at least ${cfg.minimums.loadBalancerReplicas} (keepalived moves the VIP when one fails).`,
          c.resource.urn,
        );
      }
      // What will be deployed, not only what was asked: a workload scaled
      // below the minimum by a modified program is caught too.
      for (const r of c.descendants) {
        if (r.type !== K8S.statefulSet && r.type !== K8S.deployment) continue;
        if (!podSpecOf(r)) continue;
        const role = roleOf(c, r);
        const replicas = num(at(r.props, 'spec', 'replicas'));
        if (!role || role === 'lb' || role === 'all' || replicas === undefined) continue;
        const min = cfg.minimums[FIELD[role]];
        // Only when the spec itself passed: a short spec is reported above, once.
        if (replicas < min && roleCount(c.spec, role) >= min) {
          reportViolation(`${r.type.split(':').pop()} "${r.name}" runs ${replicas} replica(s) of the ${role} role, below the minimum ${min}; do not scale it down outside the spec.`, r.urn);
        }
      }
    }
  },
};
