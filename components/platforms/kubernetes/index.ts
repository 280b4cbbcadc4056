import * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import type { PlatformAdapter } from '../types';
import { createAppliances } from './appliances';
import { createLoadBalancer } from './load-balancer';
import { namesFor, objectLabels, requireSecrets, type KubeEnv } from './meta';
import { createServiceMonitor } from './monitoring';
import { createSecrets } from './secrets';
import { createVolume } from './volume';
import { createWorkload } from './workload';

/**
 * Kubernetes: a Namespace per cluster; Secrets (TLS, tokens, DKIM) or a
 * cert-manager Certificate; a ReadWriteMany claim (or an NFS volume) for
 * the shared storage; StatefulSets for hubs and nodes, Deployments for
 * gateways and proxies, each with its ConfigMap, Service,
 * PodDisruptionBudget and NetworkPolicy; client-facing Services; a
 * Prometheus Operator ServiceMonitor when `monitoring.serviceMonitor` is on.
 * See the file of each part for the reasons behind its settings.
 */
/** The Pulumi package (and provider type `pulumi:providers:kubernetes`) of @pulumi/kubernetes. */
const KUBERNETES_PACKAGE = 'kubernetes';

export const kubernetesAdapter: PlatformAdapter<'kubernetes'> = {
  kind: 'kubernetes',
  open(ctx, parent, providers) {
    requireSecrets(ctx, parent);
    const names = namesFor(ctx.spec);
    const context = ctx.spec.platform.context;
    // The caller's kubernetes provider wins; else one for the kubeconfig
    // context the spec names; else none, and the engine's default provider
    // (KUBECONFIG, the provider's own `kubernetes:` config) applies.
    const provider = providers.explicit(KUBERNETES_PACKAGE) ?? (context ? new k8s.Provider(`${ctx.name}-k8s`, { context }, { parent }) : undefined);
    const opts = (p: pulumi.Resource, extra: pulumi.CustomResourceOptions = {}): pulumi.CustomResourceOptions => ({
      ...extra,
      parent: p,
      ...(provider ? { provider } : {}),
    });
    const namespace = new k8s.core.v1.Namespace(
      `${ctx.name}-namespace`,
      {
        metadata: {
          name: names.namespace,
          labels: {
            ...objectLabels(ctx),
            // Every pod mailfleet makes meets the "restricted" Pod Security
            // Standard (non-root, no privilege escalation, capabilities
            // dropped but NET_BIND_SERVICE, RuntimeDefault seccomp).
            'pod-security.kubernetes.io/enforce': 'restricted',
            'pod-security.kubernetes.io/warn': 'restricted',
          },
        },
      },
      opts(parent),
    );
    const env: KubeEnv = {
      ctx,
      names,
      namespace: namespace.metadata.name,
      provider,
      opts,
      meta: (name, role, annotations) => ({
        name,
        namespace: namespace.metadata.name,
        labels: objectLabels(ctx, role),
        ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
      }),
    };
    // Only when asked: a ServiceMonitor needs the Prometheus Operator's CRDs in the cluster.
    if (ctx.spec.monitoring.serviceMonitor) createServiceMonitor(env, parent);
    return {
      secrets: (p) => createSecrets(env, p),
      volume: (p) => createVolume(env, p),
      workload: (args, p) => createWorkload(env, args, p),
      appliances: (args, p) => createAppliances(env, args, p),
      loadBalancer: (args, p) => createLoadBalancer(env, args, p),
    };
  },
};

export { kubernetesMockOutputs } from './mocks';
export { MEMBER_SCRAPE_ENDPOINT, SERVICE_MONITOR_API_VERSION } from './monitoring';
