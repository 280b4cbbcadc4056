import type * as k8s from '@pulumi/kubernetes';
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { RuntimeConfig } from '../../../mail-runtime/config';
import type { RenderedMember } from '../../render';
import type { Role } from '../../spec';
import { CONFIG_HASH_ANNOTATION, CONFIG_MOUNT, RUNTIME_UID, objectLabels, selectorLabels, type KubeEnv } from './meta';
import { INTERNAL_LEAF_KEYS, SECRET_KEYS } from './secrets';

type PodTemplate = k8s.types.input.core.v1.PodTemplateSpec;
type ContainerPort = { name: string; containerPort: number; protocol: 'TCP' };

/** The container's entry point (the Dockerfile's WORKDIR is /app). */
export const RUNTIME_COMMAND = ['node', '/app/bin/mailfleet.js', 'run'] as const;

/** Named port of the management listener (/healthz, /readyz, /metrics). */
export const MANAGEMENT_PORT_NAME = 'management';

/**
 * The ports a role listens on, named after the RuntimeConfig listener
 * (`imap`, `lmtp`, `http`...), so Services, probes and NetworkPolicies refer
 * to names and follow the rendered config.
 */
export function listenPorts(config: RuntimeConfig): ContainerPort[] {
  const ports: ContainerPort[] = [];
  for (const [name, listen] of Object.entries(config.listen)) {
    if (listen) ports.push({ name, containerPort: listen.port, protocol: 'TCP' });
  }
  return ports;
}

/** Listeners that only cluster members may reach (network-policy.ts admits their peers alone; load balancers never publish them). */
export const MEMBERS_ONLY_LISTENERS: readonly string[] = ['relay'];

/** The listeners a load balancer or the outside may reach: all but the members-only ones. */
export function publicPorts(config: RuntimeConfig): ContainerPort[] {
  return listenPorts(config).filter((p) => !MEMBERS_ONLY_LISTENERS.includes(p.name));
}

export function containerPorts(config: RuntimeConfig): ContainerPort[] {
  return [...listenPorts(config), { name: MANAGEMENT_PORT_NAME, containerPort: config.management.port, protocol: 'TCP' }];
}

/** A file a member reads that comes from a Kubernetes Secret. */
interface SecretFile {
  file: string;
  secret: string;
  key: string;
}

/**
 * Which Secret feeds each secret file the config names. Driven by the
 * config, so a role gets exactly the secrets it uses: the admin token only
 * on hubs, the DKIM key only on gateways.
 */
export function secretFiles(env: KubeEnv, config: RuntimeConfig): SecretFile[] {
  const { names } = env;
  const files: SecretFile[] = [];
  if (config.tls) {
    files.push({ file: config.tls.certFile, secret: names.tlsSecret, key: SECRET_KEYS.tlsCert });
    files.push({ file: config.tls.keyFile, secret: names.tlsSecret, key: SECRET_KEYS.tlsKey });
  }
  if (config.clusterTokenFile) files.push({ file: config.clusterTokenFile, secret: names.tokensSecret, key: SECRET_KEYS.clusterToken });
  if ((config.role === 'hub' || config.role === 'all') && config.adminTokenFile) {
    files.push({ file: config.adminTokenFile, secret: names.tokensSecret, key: SECRET_KEYS.adminToken });
  }
  if ((config.role === 'gateway' || config.role === 'all') && config.filters.dkim) {
    files.push({ file: config.filters.dkim.keyFile, secret: names.dkimSecret, key: SECRET_KEYS.dkimKey });
  }
  if (config.clusterTls) {
    files.push({ file: config.clusterTls.caFile, secret: names.internalTlsSecret, key: SECRET_KEYS.internalCa });
    // The CA key only where the config names it (hubs: they sign the members' own certificates).
    if (config.role === 'hub' && config.clusterCaKeyFile) files.push({ file: config.clusterCaKeyFile, secret: names.internalTlsSecret, key: SECRET_KEYS.internalCaKey });
    const leaf = config.role in INTERNAL_LEAF_KEYS ? INTERNAL_LEAF_KEYS[config.role as keyof typeof INTERNAL_LEAF_KEYS] : undefined;
    if (config.clusterTls.certFile && config.clusterTls.keyFile && leaf) {
      // Only this role's pair: a node pod never sees the hubs' or the gateways' key.
      files.push({ file: config.clusterTls.certFile, secret: names.internalTlsSecret, key: leaf.cert });
      files.push({ file: config.clusterTls.keyFile, secret: names.internalTlsSecret, key: leaf.key });
    }
  }
  return files;
}

/** sha256 of the config every pod of the role shares the shape of; index 0 never changes when a role scales. */
export function configHash(config: RuntimeConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex');
}

function cpuQuantity(cores: number): string {
  return `${Math.max(1, Math.round(cores * 1000))}m`;
}

export interface PodArgs {
  role: Role;
  members: readonly RenderedMember[];
  size: { cpu: number; memoryMiB: number; diskGiB: number };
  /** StatefulSet pods are named like their member; Deployment pods share the index-0 config. */
  stateful: boolean;
}

export function podTemplate(env: KubeEnv, args: PodArgs): PodTemplate {
  const { ctx, names } = env;
  const first = args.members[0]!;
  const config = first.config;
  const ports = containerPorts(config);
  const privileged = ports.some((p) => p.containerPort < 1024);
  const selector = selectorLabels(ctx.spec.name, args.role);

  // Secret files, one volume per directory (projected: several Secrets may feed one directory).
  const byDir = new Map<string, SecretFile[]>();
  for (const f of secretFiles(env, config)) {
    const dir = posix.dirname(f.file);
    byDir.set(dir, [...(byDir.get(dir) ?? []), f]);
  }
  const secretVolumes: k8s.types.input.core.v1.Volume[] = [];
  const secretMounts: k8s.types.input.core.v1.VolumeMount[] = [];
  for (const [dir, files] of byDir) {
    const volume = `secret-${posix.basename(dir)}`;
    const bySecret = new Map<string, SecretFile[]>();
    for (const f of files) bySecret.set(f.secret, [...(bySecret.get(f.secret) ?? []), f]);
    secretVolumes.push({
      name: volume,
      projected: {
        // Owner and group (fsGroup) may read; nobody else.
        defaultMode: 0o440,
        sources: [...bySecret].map(([secret, fs]) => ({
          secret: { name: secret, items: fs.map((f) => ({ key: f.key, path: posix.basename(f.file) })) },
        })),
      },
    });
    secretMounts.push({ name: volume, mountPath: dir, readOnly: true });
  }

  const env0: k8s.types.input.core.v1.EnvVar[] = [
    // Declared first: later values expand $(POD_NAME).
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    args.stateful
      ? // StatefulSet pod `${cluster}-node-2` is member `${cluster}-node-2`: it reads its own file.
        { name: 'MAILFLEET_CONFIG', value: `${CONFIG_MOUNT}/$(POD_NAME).json` }
      : { name: 'MAILFLEET_CONFIG', value: `${CONFIG_MOUNT}/${first.memberId}.json` },
    // Deployment replicas share the index-0 config; the pod name makes each a distinct member.
    ...(args.stateful ? [] : [{ name: 'MAILFLEET_MEMBER_ID', value: '$(POD_NAME)' }]),
  ];

  const memory = `${args.size.memoryMiB}Mi`;
  const cpu = cpuQuantity(args.size.cpu);
  const ephemeral = `${args.size.diskGiB}Gi`;
  const spreadKeys = ctx.spec.platform.spreadKeys;

  return {
    metadata: {
      labels: objectLabels(ctx, args.role),
      annotations: { [CONFIG_HASH_ANNOTATION]: configHash(config) },
    },
    spec: {
      // The runtime never talks to the Kubernetes API.
      automountServiceAccountToken: false,
      // Service links would inject `<SERVICE>_PORT`-style variables; a Service
      // named `mailfleet-...` would yield MAILFLEET_* names the runtime rejects
      // as unknown (mail-runtime/config/load.ts).
      enableServiceLinks: false,
      // Let open SMTP/IMAP sessions finish (SIGTERM first) before the kill.
      terminationGracePeriodSeconds: 60,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: RUNTIME_UID,
        runAsGroup: RUNTIME_UID,
        fsGroup: RUNTIME_UID,
        // Never chown the whole mail volume on every pod start.
        fsGroupChangePolicy: 'OnRootMismatch',
        seccompProfile: { type: 'RuntimeDefault' },
        // Standard mail ports are < 1024. NET_BIND_SERVICE alone does not reach
        // a non-root process (no ambient capabilities); this namespaced sysctl
        // (a "safe" sysctl in the Pod Security Standards) does.
        ...(privileged ? { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }] } : {}),
      },
      // Spread over every key, softly: a hard rule on hosts would leave a pod
      // Pending on small clusters and during drains (3 nodes on 2 hosts, one
      // host cordoned); the PodDisruptionBudget already keeps drains to one
      // pod of a role at a time, and ownership leases make two nodes on one
      // host safe, only less available.
      topologySpreadConstraints: spreadKeys.map((key) => ({
        maxSkew: 1,
        topologyKey: key,
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: selector },
      })),
      // Scoring weight on top of the spread: hosts first, then zones.
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: spreadKeys.map((key, i) => ({
            weight: i === 0 ? 100 : 50,
            podAffinityTerm: { topologyKey: key, labelSelector: { matchLabels: selector } },
          })),
        },
      },
      containers: [
        {
          name: 'mailfleet',
          image: ctx.spec.runtime.image,
          command: [...RUNTIME_COMMAND],
          args: ['--role', args.role],
          env: env0,
          ports,
          // Requests equal limits: Guaranteed QoS, so the kubelet evicts these
          // pods last under node pressure.
          resources: {
            requests: { cpu, memory, 'ephemeral-storage': ephemeral },
            limits: { cpu, memory, 'ephemeral-storage': ephemeral },
          },
          startupProbe: {
            // First start compiles the TypeScript runtime (tsx) and mounts
            // shared storage: up to 5 minutes before liveness takes over.
            httpGet: { path: '/healthz', port: MANAGEMENT_PORT_NAME, scheme: 'HTTP' },
            periodSeconds: 5,
            timeoutSeconds: 3,
            failureThreshold: 60,
          },
          livenessProbe: {
            httpGet: { path: '/healthz', port: MANAGEMENT_PORT_NAME, scheme: 'HTTP' },
            periodSeconds: 10,
            timeoutSeconds: 5,
            failureThreshold: 3,
          },
          readinessProbe: {
            httpGet: { path: '/readyz', port: MANAGEMENT_PORT_NAME, scheme: 'HTTP' },
            periodSeconds: 5,
            timeoutSeconds: 3,
            failureThreshold: 2,
          },
          securityContext: {
            runAsNonRoot: true,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'], ...(privileged ? { add: ['NET_BIND_SERVICE'] } : {}) },
          },
          volumeMounts: [
            { name: 'config', mountPath: CONFIG_MOUNT, readOnly: true },
            ...secretMounts,
            { name: 'storage', mountPath: config.storage.path },
            // The root filesystem is read-only; tsx keeps its compile cache in /tmp.
            { name: 'tmp', mountPath: '/tmp' },
          ],
        },
      ],
      volumes: [
        { name: 'config', configMap: { name: names.config(args.role), defaultMode: 0o444 } },
        ...secretVolumes,
        { name: 'storage', persistentVolumeClaim: { claimName: names.pvc } },
        { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
      ],
    },
  };
}
