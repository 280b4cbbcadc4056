import * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import { createHash } from 'node:crypto';
import { APPLIANCE_SIZES, CLAMAV_PATHS, CLAMAV_UID, RSPAMD_UID, SIGNATURE_VOLUME_GIB, appliancePlan, type ClamdPlan, type RspamdPlan } from '../../appliances';
import type { RenderedAppliance } from '../../render';
import type { ApplianceArgs, Workload } from '../types';
import { LABEL, applianceLabels, selectorLabels, type KubeEnv } from './meta';
import { peerFor } from './network-policy';

/**
 * The security appliances beside the gateways, per site (components/render.ts
 * renderAppliances names them `<cluster>-clamd-<i>` / `<cluster>-rspamd-<i>`):
 *
 * - a ConfigMap with the daemon's configuration (components/appliances);
 * - a Deployment: replicas interchangeable, as many as the site's gateways
 *   up to two, spread over hosts like the members; clamd runs with a
 *   freshclam sidecar (unless `updates.mode: none`) and probes with
 *   clamdscan's PING/PONG, rspamd with GET /ping;
 * - a ClusterIP Service of the same name: the address in the gateways'
 *   RuntimeConfig;
 * - a PodDisruptionBudget (one pod at a time) and a NetworkPolicy: only the
 *   cluster's gateways reach the scanner port; egress only what the daemon's
 *   updates need (nothing for `mode: none` and `offline`).
 *
 * Signatures live in an emptyDir per pod, seeded from the image's built-in
 * database by an init container, so a new pod serves at once and freshclam
 * only fetches diffs; a shared claim would pin every replica to one node
 * (ReadWriteOnce) for state that any pod can rebuild. With `mode: none` there
 * is no volume: clamd reads the image's database (the operator's image).
 *
 * Pods meet the namespace's "restricted" Pod Security Standard, like the
 * members' (non-root numeric users, read-only root, no capabilities).
 */

/** Pods per appliance: one per gateway of its site, at most two (one can be drained while the other scans). */
export const MAX_APPLIANCE_REPLICAS = 2;

/** Named ports of the scanners. */
const PORT_NAME = { clamd: 'clamd', rspamd: 'rspamd' } as const;
const SEED_MOUNT = '/seed';
const TCP = (port: number) => ({ protocol: 'TCP' as const, port });

/** Outside the cluster network, for egress rules to the update sources. */
const ANYWHERE = [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }];
const DNS = { ports: [{ protocol: 'UDP' as const, port: 53 }, TCP(53)] };

const quantity = (size: { cpu: number; memoryMiB: number }) => {
  const q = { cpu: `${Math.max(1, Math.round(size.cpu * 1000))}m`, memory: `${size.memoryMiB}Mi` };
  // Requests equal limits (Guaranteed QoS), as for the members.
  return { requests: q, limits: q };
};

const securityContext = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
};

type Container = k8s.types.input.core.v1.Container;
type Volume = k8s.types.input.core.v1.Volume;

/** clamdscan --ping: clamd answers PONG to PING (clamd protocol) once its database is loaded. */
const clamdPing = (attempts: number) => ({ exec: { command: ['clamdscan', '--ping', String(attempts)] } });

function clamdPod(plan: ClamdPlan, configMap: string): { containers: Container[]; initContainers: Container[]; volumes: Volume[]; uid: number } {
  const updates = plan.updates.mode !== 'none';
  const signatures = { name: 'signatures', mountPath: CLAMAV_PATHS.database };
  const config = { name: 'config', mountPath: '/etc/clamav', readOnly: true };
  const tmp = { name: 'tmp', mountPath: CLAMAV_PATHS.temporary };
  const containers: Container[] = [
    {
      name: 'clamd',
      image: plan.image,
      // Foreground, logging and sockets come from clamd.conf (components/appliances).
      command: ['clamd'],
      ports: [{ name: PORT_NAME.clamd, containerPort: 3310, protocol: 'TCP' }],
      resources: quantity(APPLIANCE_SIZES.clamd),
      // Loading the database takes a minute or two on a small node: up to 10 minutes before liveness counts.
      startupProbe: { ...clamdPing(1), periodSeconds: 10, timeoutSeconds: 10, failureThreshold: 60 },
      livenessProbe: { ...clamdPing(1), periodSeconds: 30, timeoutSeconds: 10, failureThreshold: 3 },
      readinessProbe: { ...clamdPing(1), periodSeconds: 10, timeoutSeconds: 10, failureThreshold: 2 },
      securityContext,
      volumeMounts: [config, tmp, ...(updates ? [signatures] : [])],
    },
  ];
  const initContainers: Container[] = [];
  if (updates) {
    containers.push({
      name: 'freshclam',
      image: plan.image,
      command: ['freshclam', '--daemon', '--stdout'],
      resources: quantity(APPLIANCE_SIZES.freshclam),
      securityContext,
      volumeMounts: [config, { name: 'tmp', mountPath: CLAMAV_PATHS.temporary }, signatures],
    });
    // The image's own database, so clamd starts without waiting for a full download.
    initContainers.push({
      name: 'seed-signatures',
      image: plan.image,
      command: ['sh', '-c', `cp -a ${CLAMAV_PATHS.database}/. ${SEED_MOUNT}/`],
      resources: quantity(APPLIANCE_SIZES.seed),
      securityContext,
      volumeMounts: [{ name: 'signatures', mountPath: SEED_MOUNT }],
    });
  }
  const volumes: Volume[] = [
    { name: 'config', configMap: { name: configMap, defaultMode: 0o444 } },
    { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
    ...(updates ? [{ name: 'signatures', emptyDir: { sizeLimit: `${SIGNATURE_VOLUME_GIB}Gi` } }] : []),
  ];
  return { containers, initContainers, volumes, uid: CLAMAV_UID };
}

function rspamdPod(plan: RspamdPlan, configMap: string): { containers: Container[]; initContainers: Container[]; volumes: Volume[]; uid: number } {
  const ping = { httpGet: { path: '/ping', port: PORT_NAME.rspamd, scheme: 'HTTP' } };
  return {
    containers: [
      {
        name: 'rspamd',
        image: plan.image,
        command: ['rspamd', '-f'],
        ports: [{ name: PORT_NAME.rspamd, containerPort: 11333, protocol: 'TCP' }],
        resources: quantity(APPLIANCE_SIZES.rspamd),
        startupProbe: { ...ping, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 60 },
        livenessProbe: { ...ping, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
        readinessProbe: { ...ping, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 },
        securityContext,
        volumeMounts: [
          { name: 'config', mountPath: '/etc/rspamd/local.d', readOnly: true },
          // State (hyperscan cache, statistics, control socket) and temporary files: rebuilt by any pod.
          { name: 'data', mountPath: '/var/lib/rspamd' },
          { name: 'run', mountPath: '/run/rspamd' },
          { name: 'tmp', mountPath: '/tmp' },
        ],
      },
    ],
    initContainers: [],
    volumes: [
      { name: 'config', configMap: { name: configMap, defaultMode: 0o444 } },
      { name: 'data', emptyDir: { sizeLimit: '1Gi' } },
      { name: 'run', emptyDir: { sizeLimit: '16Mi' } },
      { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
    ],
    uid: RSPAMD_UID,
  };
}

type Egress = k8s.types.input.networking.v1.NetworkPolicyEgressRule;

/** Where each daemon's updates come from, and nothing else. */
function egressOf(a: RenderedAppliance, clamd: ClamdPlan | undefined, rspamd: RspamdPlan | undefined): Egress[] {
  if (a.kind === 'clamd') {
    const updates = clamd!.updates;
    if (updates.mode === 'none') return [];
    if (updates.mode === 'freshclam') return [DNS, { to: ANYWHERE, ports: [TCP(443), TCP(80)] }];
    const url = new URL(updates.mirror);
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    const { to } = peerFor(`${url.hostname}:${port}`);
    return [DNS, to ? { to, ports: [TCP(port)] } : { ports: [TCP(port)] }];
  }
  // Offline: no look-ups at all. Online: DNS lists, maps over HTTP(S), fuzzy hashes (UDP 11335).
  if (rspamd!.offline) return [];
  return [DNS, { to: ANYWHERE, ports: [TCP(80), TCP(443), { protocol: 'UDP' as const, port: 11335 }] }];
}

export function createAppliances(env: KubeEnv, args: ApplianceArgs, parent: pulumi.Resource): Workload {
  const { ctx } = env;
  const cluster = ctx.spec.name;
  const plan = appliancePlan(ctx.spec, 'container');
  const resources: pulumi.Resource[] = [];
  const addresses: pulumi.Output<string>[] = [];
  const spreadKeys = ctx.spec.platform.spreadKeys;

  for (const a of args.appliances) {
    const base = `${args.namePrefix}-${a.kind}-${a.index}`;
    const selector = applianceLabels(cluster, a);
    const labels = { ...ctx.spec.platform.labels, ...selector, [LABEL.partOf]: 'mailfleet', [LABEL.managedBy]: 'pulumi', 'mailfleet.io/site': a.site };
    const meta = { name: a.id, namespace: env.namespace, labels };
    const data = a.kind === 'clamd' ? { 'clamd.conf': plan.clamd!.clamdConf, ...(plan.clamd!.freshclamConf ? { 'freshclam.conf': plan.clamd!.freshclamConf } : {}) } : plan.rspamd!.localFiles;
    const configName = `${a.id}-config`;
    const configMap = new k8s.core.v1.ConfigMap(`${base}-config`, { metadata: { ...meta, name: configName }, data }, env.opts(parent));

    const pod = a.kind === 'clamd' ? clamdPod(plan.clamd!, configName) : rspamdPod(plan.rspamd!, configName);
    const deployment = new k8s.apps.v1.Deployment(
      `${base}-deployment`,
      {
        metadata: meta,
        spec: {
          replicas: Math.min(MAX_APPLIANCE_REPLICAS, a.gateways.length),
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          revisionHistoryLimit: 5,
          selector: { matchLabels: selector },
          template: {
            metadata: {
              labels,
              // A changed configuration rolls the pods (and only then).
              annotations: { 'mailfleet.io/config-sha256': createHash('sha256').update(JSON.stringify(data)).digest('hex') },
            },
            spec: {
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              securityContext: { runAsNonRoot: true, runAsUser: pod.uid, seccompProfile: { type: 'RuntimeDefault' } },
              topologySpreadConstraints: spreadKeys.map((key) => ({ maxSkew: 1, topologyKey: key, whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector } })),
              affinity: {
                podAntiAffinity: {
                  preferredDuringSchedulingIgnoredDuringExecution: spreadKeys.map((key, i) => ({
                    weight: i === 0 ? 100 : 50,
                    podAffinityTerm: { topologyKey: key, labelSelector: { matchLabels: selector } },
                  })),
                },
              },
              ...(pod.initContainers.length > 0 ? { initContainers: pod.initContainers } : {}),
              containers: pod.containers,
              volumes: pod.volumes,
            },
          },
        },
      },
      env.opts(parent, { dependsOn: [configMap] }),
    );

    const service = new k8s.core.v1.Service(
      `${base}-service`,
      { metadata: meta, spec: { type: 'ClusterIP', selector, ports: [{ name: PORT_NAME[a.kind], port: a.port, targetPort: PORT_NAME[a.kind], protocol: 'TCP' }] } },
      env.opts(parent),
    );

    const pdb = new k8s.policy.v1.PodDisruptionBudget(
      `${base}-pdb`,
      { metadata: meta, spec: { maxUnavailable: 1, unhealthyPodEvictionPolicy: 'AlwaysAllow', selector: { matchLabels: selector } } },
      env.opts(parent),
    );

    const policy = new k8s.networking.v1.NetworkPolicy(
      `${base}-netpol`,
      {
        metadata: meta,
        spec: {
          podSelector: { matchLabels: selector },
          policyTypes: ['Ingress', 'Egress'],
          // Only the cluster's gateways scan; kubelet probes come from the node and pass.
          ingress: [{ from: [{ podSelector: { matchLabels: selectorLabels(cluster, 'gateway') } }], ports: [TCP(a.port)] }],
          egress: egressOf(a, plan.clamd, plan.rspamd),
        },
      },
      env.opts(parent),
    );

    resources.push(configMap, deployment, service, pdb, policy);
    addresses.push(service.metadata.apply(() => `${a.host}:${a.port}`));
  }
  return { resources, addresses };
}
