import * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import { selectorLabels, type KubeEnv } from './meta';
import { MANAGEMENT_PORT_NAME } from './pod';

/**
 * The Prometheus Operator's ServiceMonitor for the members
 * (`monitoring.spec.serviceMonitor: true`). It needs the operator's CRDs in
 * the cluster, so it is made only when asked.
 *
 * One object selects every role's Service by the cluster's selector labels
 * (app.kubernetes.io/name + instance, no component) and scrapes the port named
 * `management` (/metrics, DESIGN.md). The operator scrapes each pod behind a
 * Service (its endpoints), so every member is a target, also behind the
 * gateways' and proxies' ClusterIP Services. The client-facing Services carry
 * the same labels but no `management` port, so they add no target.
 */
export const SERVICE_MONITOR_API_VERSION = 'monitoring.coreos.com/v1';

/** The scrape job's name: the example alert rules (examples/monitoring/alerts.yml) select `up{job="mailfleet"}`. */
const SCRAPE_JOB = 'mailfleet';

/** Prometheus' default scrape interval; the members' gauges are computed at scrape time, so any interval is cheap. */
const SCRAPE_INTERVAL = '30s';

function withLabels<M extends { labels?: unknown }>(meta: M, extra: Record<string, string>): M {
  return Object.keys(extra).length ? { ...meta, labels: { ...(meta.labels as Record<string, string> | undefined), ...extra } } : meta;
}

/** How a ServiceMonitor scrapes a member: the Service port named `management`, /metrics, under the job `mailfleet` (a failover pair's site uses the same). */
export const MEMBER_SCRAPE_ENDPOINT = {
  port: MANAGEMENT_PORT_NAME,
  path: '/metrics',
  scheme: 'http',
  interval: SCRAPE_INTERVAL,
  // The job label the rules and the dashboard select on (the operator's default is the Service's name, one per role).
  relabelings: [{ action: 'replace', targetLabel: 'job', replacement: SCRAPE_JOB }],
};

export function createServiceMonitor(env: KubeEnv, parent: pulumi.Resource): k8s.apiextensions.CustomResource {
  const { ctx, names } = env;
  return new k8s.apiextensions.CustomResource(
    `${ctx.name}-servicemonitor`,
    {
      apiVersion: SERVICE_MONITOR_API_VERSION,
      kind: 'ServiceMonitor',
      // monitoring.serviceMonitorLabels: what the operator's Prometheus selects ServiceMonitors by.
      metadata: withLabels(env.meta(`${names.cluster}-members`), ctx.spec.monitoring.serviceMonitorLabels),
      spec: {
        selector: { matchLabels: selectorLabels(ctx.spec.name) },
        namespaceSelector: { matchNames: [env.namespace] },
        endpoints: [MEMBER_SCRAPE_ENDPOINT],
      },
    },
    env.opts(parent),
  );
}
