import type { StackValidationPolicy } from '@pulumi/policy';
import { configOf } from '../lib/config';
import type { Filters } from '../lib/spec';
import { runtimeConfigsOf } from '../lib/text';
import { DEFAULT_STRICT_ENVIRONMENTS, clustersOf, label, pairsOf, reportUnreadable, roleCount, type TopologyView } from '../lib/topology';
import { isRecord } from '../lib/walk';

/**
 * 13. Inbound mail is scanned for viruses (advisory). A cluster's gateways
 * are the MX of every hosted domain: they take mail from anyone on the
 * internet and put it in mailboxes. Without an antivirus filter that mail
 * reaches users unscanned. Advisory, because a site may scan elsewhere (a
 * filtering service in front of the MX); the finding says where to turn it
 * on: `filters.antivirus` with `deploy: true` (clamd beside the gateways)
 * or the address of the operator's own clamd.
 */

const DEFAULTS = { environments: [...DEFAULT_STRICT_ENVIRONMENTS] as string[] };

type Spec = { environment?: string; filters?: Filters; domains?: readonly { name: string }[] };

const REMEDY = 'add filters.antivirus: { kind: clamd, deploy: true } (clamd with freshclam beside the gateways) or { kind: clamd, address: <your clamd host:port> }';

export const inboundAntivirus: StackValidationPolicy = {
  name: 'inbound-antivirus',
  description: 'A production cluster that accepts inbound mail scans it for viruses (filters.antivirus: clamd deployed beside the gateways, or the operator\'s own).',
  enforcementLevel: 'advisory',
  tags: ['security', 'smtp', 'antivirus', 'kubernetes', 'docker', 'proxmox', 'vsphere'],
  remediationSteps: `In the cluster spec, ${REMEDY}. Air-gapped sites add updates: { mode: mirror, mirror: <URL of the private signature mirror> }.`,
  configSchema: {
    properties: {
      environments: { type: 'array', items: { type: 'string' }, default: DEFAULTS.environments, description: 'Spec environments whose inbound mail must be scanned.' },
    },
  },
  validateStack: (args, reportViolation) => {
    const cfg = configOf(args, DEFAULTS);
    const clusters = clustersOf(args);
    const pairs = pairsOf(args);
    reportUnreadable([...clusters.unreadable, ...pairs.unreadable], reportViolation);
    const check = (v: TopologyView<Spec>, inbound: boolean) => {
      const env = v.spec.environment ?? 'development';
      if (!cfg.environments.includes(env) || !inbound) return;
      const domains = (v.spec.domains ?? []).map((d) => d.name).join(', ') || 'its domains';
      if (!isRecord(v.spec.filters?.antivirus)) {
        reportViolation(`${env} cluster ${label(v)} is the MX for ${domains} but scans no inbound mail for viruses: ${REMEDY}.`, v.resource.urn);
        return;
      }
      // What will be deployed: a gateway whose config has no clamd (a program that dropped it).
      for (const r of v.descendants) {
        for (const { path, config } of runtimeConfigsOf(r.props)) {
          if (config.role !== 'gateway' && config.role !== 'all') continue;
          const filters = config.filters;
          if (!isRecord(filters) || !isRecord(filters.clamd)) {
            reportViolation(`gateway config ${String(config.memberId)} (${r.name}, ${path}) accepts inbound mail without the spec's antivirus filter: ship the rendered config (components/render.ts) unchanged.`, r.urn);
          }
        }
      }
    };
    // Every cluster has gateways (the MX); a failover pair's all-roles member is its MX.
    for (const c of clusters.views) check(c as TopologyView<Spec>, roleCount(c.spec, 'gateway') > 0);
    for (const p of pairs.views) check(p as TopologyView<Spec>, true);
  },
};
