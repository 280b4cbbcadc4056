import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import type { Role } from '../../spec';
import type { Workload, WorkloadArgs } from '../types';
import { selectorLabels, type KubeEnv } from './meta';
import { networkPolicySpec } from './network-policy';
import { containerPorts, podTemplate } from './pod';

/**
 * The members of one role:
 *
 * - a ConfigMap `<cluster>-<role>-config` with every member's RuntimeConfig
 *   as `<memberId>.json` (exactly render.ts's output; it holds file paths,
 *   never secret values);
 * - hubs, nodes and gateways: a StatefulSet `<cluster>-<role>` governed by the headless
 *   Service of the same name, so pod `<cluster>-node-2` is member
 *   `<cluster>-node-2` at `<cluster>-node-2.<cluster>-node.<ns>.svc.cluster.local`
 *   (the address render.ts advertises) and reads its own config file. The
 *   hub URL `https://<cluster>-hub.<ns>.svc...` resolves through the same
 *   headless Service to the ready hubs;
 * - proxies: a Deployment behind a ClusterIP Service
 *   `<cluster>-<role>` (render.ts's address for them); replicas share the
 *   index-0 config and take their member id from the pod name;
 * - a PodDisruptionBudget (one pod of the role down at a time);
 * - a NetworkPolicy (./network-policy.ts).
 *
 * Scaling changes `replicas` and adds a key to the ConfigMap; no Pulumi
 * resource is added or renamed, and existing pods are not restarted (their
 * config hash is index 0's).
 */

/**
 * Gateways are StatefulSets too: a gateway's member id names its queue
 * folder (`<storage>/queue/<memberId>/`, fenced by epoch markers), so it
 * must survive a restart or reschedule. A Deployment pod's name changes on
 * every reschedule and would leave the mail it queued behind; an ordinal pod
 * `<cluster>-gateway-1` comes back as the same member and reclaims its own
 * folder.
 */
const STATEFUL: Record<Role, boolean> = { hub: true, node: true, gateway: true, proxy: false };

export function createWorkload(env: KubeEnv, args: WorkloadArgs, parent: pulumi.Resource): Workload {
  const { ctx, names } = env;
  const { role, members } = args;
  if (members.length === 0) {
    throw new pulumi.ResourceError(`kubernetes: the ${role} workload needs at least one member`, parent);
  }
  const base = `${ctx.name}-${role}`;
  const name = names.role(role);
  const stateful = STATEFUL[role];
  const selector = selectorLabels(ctx.spec.name, role);
  const dependsOn = [...args.volume.resources, ...args.secretStore.resources];

  const configMap = new k8s.core.v1.ConfigMap(
    `${base}-config`,
    {
      metadata: env.meta(names.config(role), role),
      data: Object.fromEntries(members.map((m) => [`${m.memberId}.json`, `${JSON.stringify(m.config, null, 2)}\n`])),
    },
    env.opts(parent),
  );

  const service = new k8s.core.v1.Service(
    `${base}-service`,
    {
      metadata: env.meta(name, role),
      spec: {
        // Headless for StatefulSets: one DNS record per member.
        ...(stateful ? { clusterIP: 'None' } : { type: 'ClusterIP' }),
        selector,
        ports: containerPorts(members[0]!.config).map((p) => ({ name: p.name, port: p.containerPort, targetPort: p.name, protocol: p.protocol })),
      },
    },
    env.opts(parent),
  );

  const template = podTemplate(env, { role, members, size: args.size, stateful });
  // Not on the Service: Pulumi waits for a Service to select ready pods, which
  // this workload creates; the pods find the Service's DNS whenever it exists.
  const workloadOpts = env.opts(parent, { dependsOn: [...dependsOn, configMap] });
  const workload = stateful
    ? new k8s.apps.v1.StatefulSet(
        `${base}-statefulset`,
        {
          metadata: env.meta(name, role),
          spec: {
            serviceName: name,
            replicas: members.length,
            // Members are independent (ownership is fenced by leases and
            // epochs), so start and replace them in parallel.
            podManagementPolicy: 'Parallel',
            updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
            revisionHistoryLimit: 5,
            selector: { matchLabels: selector },
            template,
          },
        },
        workloadOpts,
      )
    : new k8s.apps.v1.Deployment(
        `${base}-deployment`,
        {
          metadata: env.meta(name, role),
          spec: {
            replicas: members.length,
            // Surge first: a rollout never drops below the configured capacity.
            strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
            revisionHistoryLimit: 5,
            selector: { matchLabels: selector },
            template,
          },
        },
        workloadOpts,
      );

  const pdb = new k8s.policy.v1.PodDisruptionBudget(
    `${base}-pdb`,
    {
      metadata: env.meta(name, role),
      spec: {
        // One pod of the role at a time during drains and upgrades, whatever
        // the count (with one member this still lets a node drain).
        maxUnavailable: 1,
        // A crash-looping pod must not block a drain that would fix it.
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
        selector: { matchLabels: selector },
      },
    },
    env.opts(parent),
  );

  const policy = new k8s.networking.v1.NetworkPolicy(
    `${base}-netpol`,
    { metadata: env.meta(name, role), spec: networkPolicySpec(env, role) },
    env.opts(parent),
  );

  return {
    resources: [configMap, service, workload, pdb, policy],
    // render.ts's address (per-pod DNS for StatefulSets, the Service for
    // Deployments), resolved once the workload exists.
    addresses: members.map((m) => workload.metadata.apply(() => m.address)),
  };
}
