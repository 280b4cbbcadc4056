import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import type { RuntimeConfig } from '../../mail-runtime/config';
import { MEMBER_SCRAPE_ENDPOINT, SERVICE_MONITOR_API_VERSION } from '../platforms/kubernetes';
import { GUEST_PATHS, kubernetesNamespace } from '../render';
import type { PlatformOf } from '../spec';
import type { PrimaryPower } from './contract';
import { clientPorts } from './ports';
import { CONTROLLER_CREDENTIAL_FILES } from './controller';
import type { SiteBuild, SiteContext } from './types';

/**
 * A failover site on Kubernetes: the all-roles member is a StatefulSet of
 * one pod (`replicas: 0` on the standby: created, scheduled nowhere, until
 * the controller scales it to 1 through the `scale` subresource), its
 * Service, ConfigMap, Secret and storage (a ReadWriteMany claim or the NFS
 * export). Power grant (least privilege): a ServiceAccount whose Role allows
 * only get/patch/update on `statefulsets/scale` and get on `statefulsets`,
 * limited by resourceNames to this member's StatefulSet; the primary
 * exports that account's token. At the standby site the controller is a
 * Deployment running as the standby's own power account (so its in-cluster
 * token can scale the standby and nothing else) with the primary's token
 * mounted from a Secret.
 */

const CONFIG_MOUNT = '/etc/mailfleet/config';
const POWER_MOUNT = '/etc/mailfleet/power';

export function kubernetesSite(c: SiteContext): SiteBuild {
  const platform = c.spec[c.side].platform as PlatformOf<'kubernetes'>;
  if (!c.settings.powerEndpoint) {
    throw new pulumi.ResourceError(
      `kubernetes site "${c.spec[c.side].site.name}": the other site's failover controller reaches this cluster's API server, so give its URL (FailoverSiteArgs.platform.powerEndpoint; stack config mailfleet:powerEndpoint, e.g. https://k8s-api.ams.example.net:6443)`,
      c.parent,
    );
  }
  const apiServer = c.settings.powerEndpoint;
  const ns = kubernetesNamespace({ name: c.spec.name, platform });
  const id = c.member.memberId;
  const base = `${c.name}-all-${c.member.index}`;
  const labels = { 'app.kubernetes.io/name': 'mailfleet', 'app.kubernetes.io/instance': c.spec.name, 'app.kubernetes.io/component': 'all', 'app.kubernetes.io/managed-by': 'pulumi' };
  const opts = (extra?: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions => ({ parent: c.parent, ...extra });
  const namespace = new k8s.core.v1.Namespace(`${c.name}-namespace`, { metadata: { name: ns, labels } }, opts());
  const inNs = (extra?: pulumi.CustomResourceOptions) => opts({ dependsOn: [namespace], ...extra });
  const meta = (name: string) => ({ name, namespace: ns, labels });

  const secretData: Record<string, pulumi.Output<string>> = { 'admin-token': c.secrets.adminToken, 'cluster-token': c.secrets.clusterToken };
  if (c.secrets.tlsCertPem) secretData['tls.crt'] = c.secrets.tlsCertPem;
  if (c.secrets.tlsKeyPem) secretData['tls.key'] = c.secrets.tlsKeyPem;
  if (c.secrets.dkimKeyPem) secretData['dkim.key'] = c.secrets.dkimKeyPem;
  const secret = new k8s.core.v1.Secret(`${base}-secrets`, { metadata: meta(`${id}-secrets`), stringData: pulumi.secret(pulumi.all(secretData)) }, inNs());
  const config = new k8s.core.v1.ConfigMap(`${base}-config`, { metadata: meta(`${id}-config`), data: { [`${id}.json`]: `${JSON.stringify(c.member.config, null, 2)}\n` } }, inNs());

  const storage = c.spec[c.side].storage;
  const storageResources: pulumi.Resource[] = [];
  let storageVolume: k8s.types.input.core.v1.Volume;
  if (storage.kind === 'pvc-rwx') {
    const pvc = new k8s.core.v1.PersistentVolumeClaim(
      `${c.name}-storage`,
      { metadata: meta(`${c.spec.name}-storage`), spec: { accessModes: ['ReadWriteMany'], storageClassName: storage.storageClass, resources: { requests: { storage: `${storage.sizeGiB}Gi` } } } },
      inNs({ protect: false }),
    );
    storageResources.push(pvc);
    storageVolume = { name: 'storage', persistentVolumeClaim: { claimName: pvc.metadata.name } };
  } else if (storage.kind === 'nfs') {
    storageVolume = { name: 'storage', nfs: { server: storage.server, path: storage.path } };
  } else {
    throw new pulumi.ResourceError(`kubernetes site: storage.kind "${storage.kind}" is not available; use pvc-rwx or nfs`, c.parent);
  }
  const tlsItems = [
    ...(c.secrets.tlsCertPem ? [{ key: 'tls.crt', path: 'tls.crt' }] : []),
    ...(c.secrets.tlsKeyPem ? [{ key: 'tls.key', path: 'tls.key' }] : []),
  ];
  const secretVolumes = (secretName: pulumi.Input<string>): k8s.types.input.core.v1.Volume[] => [
    { name: 'secrets', secret: { secretName, defaultMode: 0o400, items: Object.keys(secretData).filter((k) => !k.startsWith('tls.')).map((k) => ({ key: k, path: k })) } },
    ...(tlsItems.length ? [{ name: 'tls', secret: { secretName, defaultMode: 0o400, items: tlsItems } }] : []),
  ];
  const secretMounts: k8s.types.input.core.v1.VolumeMount[] = [
    { name: 'secrets', mountPath: '/etc/mailfleet/secrets', readOnly: true },
    ...(tlsItems.length ? [{ name: 'tls', mountPath: '/etc/mailfleet/tls', readOnly: true }] : []),
  ];
  const size = c.spec[c.side].member;
  const service = new k8s.core.v1.Service(
    `${base}-service`,
    {
      metadata: meta(id),
      spec: {
        type: c.spec[c.side].loadBalancer?.kind === 'external' ? 'ClusterIP' : 'LoadBalancer',
        selector: { ...labels, 'mailfleet.io/member': id },
        ports: clientPorts(c.member.config).map((port) => ({ name: `p${port}`, port, targetPort: port })),
      },
    },
    inNs(),
  );
  if (c.spec.monitoring.serviceMonitor) {
    // The management port on a ClusterIP Service of its own (never on the client-facing LoadBalancer), and the ServiceMonitor that scrapes it.
    const metricsLabels = { ...labels, 'mailfleet.io/metrics': 'management' };
    const port = c.member.config.management.port;
    new k8s.core.v1.Service(
      `${base}-metrics`,
      {
        metadata: { name: `${id}-metrics`, namespace: ns, labels: metricsLabels },
        spec: { type: 'ClusterIP', selector: { ...labels, 'mailfleet.io/member': id }, ports: [{ name: MEMBER_SCRAPE_ENDPOINT.port, port, targetPort: port }] },
      },
      inNs(),
    );
    new k8s.apiextensions.CustomResource(
      `${base}-servicemonitor`,
      {
        apiVersion: SERVICE_MONITOR_API_VERSION,
        kind: 'ServiceMonitor',
        metadata: { name: `${id}-members`, namespace: ns, labels: { ...labels, ...c.spec.monitoring.serviceMonitorLabels } },
        spec: { selector: { matchLabels: metricsLabels }, namespaceSelector: { matchNames: [ns] }, endpoints: [MEMBER_SCRAPE_ENDPOINT] },
      },
      inNs(),
    );
  }
  const statefulSet = new k8s.apps.v1.StatefulSet(
    `${base}-statefulset`,
    {
      metadata: meta(id),
      spec: {
        serviceName: id,
        // The standby is created with no pod: the controller scales it to 1 on promotion.
        replicas: c.running ? 1 : 0,
        selector: { matchLabels: { ...labels, 'mailfleet.io/member': id } },
        template: {
          metadata: { labels: { ...labels, 'mailfleet.io/member': id } },
          spec: {
            securityContext: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, runAsNonRoot: true },
            containers: [
              {
                name: 'mailfleet',
                image: c.spec.runtime.image,
                args: ['run', '--role', 'all', '--config', `${CONFIG_MOUNT}/${id}.json`],
                resources: { requests: { cpu: String(size.cpu), memory: `${size.memoryMiB}Mi` }, limits: { cpu: String(size.cpu), memory: `${size.memoryMiB}Mi` } },
                readinessProbe: { httpGet: { path: '/readyz', port: c.member.config.management.port } },
                livenessProbe: { httpGet: { path: '/healthz', port: c.member.config.management.port } },
                volumeMounts: [{ name: 'config', mountPath: CONFIG_MOUNT, readOnly: true }, { name: 'storage', mountPath: GUEST_PATHS.storage }, ...secretMounts],
              },
            ],
            volumes: [{ name: 'config', configMap: { name: config.metadata.name } }, storageVolume, ...secretVolumes(secret.metadata.name)],
          },
        },
      },
    },
    // Pulumi must not wait for a pod the standby never has.
    inNs({ dependsOn: [namespace, config, secret, ...storageResources] }),
  );

  // The least-privilege power grant for this member.
  const grant = (who: string) => {
    const account = new k8s.core.v1.ServiceAccount(`${base}-power-account`, { metadata: meta(`${id}-power`), automountServiceAccountToken: false }, inNs());
    const role = new k8s.rbac.v1.Role(
      `${base}-power-role`,
      {
        metadata: meta(`${id}-power`),
        rules: [
          { apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: [id], verbs: ['get'] },
          { apiGroups: ['apps'], resources: ['statefulsets/scale'], resourceNames: [id], verbs: ['get', 'patch', 'update'] },
        ],
      },
      inNs(),
    );
    const binding = new k8s.rbac.v1.RoleBinding(
      `${base}-power-binding`,
      { metadata: meta(`${id}-power`), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name }, subjects: [{ kind: 'ServiceAccount', name: account.metadata.name, namespace: ns }] },
      inNs(),
    );
    const token = new k8s.core.v1.Secret(
      `${base}-power-token`,
      { metadata: { ...meta(`${id}-power-token`), annotations: { 'kubernetes.io/service-account.name': `${id}-power`, 'mailfleet.io/used-by': who } }, type: 'kubernetes.io/service-account-token' },
      inNs({ dependsOn: [account], additionalSecretOutputs: ['data'] }),
    );
    return { account, resources: [account, role, binding, token], token: pulumi.secret(token.data.apply((d) => Buffer.from(d?.token ?? '', 'base64').toString('utf8'))) };
  };
  const power = grant(c.side === 'primary' ? 'the standby site failover controller (fences this member)' : 'this site failover controller (starts this member)');
  const powerTarget: PrimaryPower = { kind: 'kubernetes', apiServer, namespace: ns, workload: { kind: 'StatefulSet', name: id } };

  return {
    resources: [namespace, secret, config, ...storageResources, service, statefulSet, ...power.resources],
    // The other site reaches the member through its Service's external address (in-cluster DNS does not cross sites).
    address: pulumi.all([service.status, statefulSet.metadata]).apply(([st]) => st?.loadBalancer?.ingress?.[0]?.ip ?? st?.loadBalancer?.ingress?.[0]?.hostname ?? c.member.address),
    power: pulumi.output(powerTarget),
    credential: power.token,
    // In the controller pod: its own service account token, which is the standby's grant.
    standbyCredentialFile: CONTROLLER_CREDENTIAL_FILES.podToken,
    controller(controllerConfig: pulumi.Output<RuntimeConfig>, primaryCredential: pulumi.Output<string>): pulumi.Resource[] {
      const cid = `${c.spec.name}-controller`;
      const credential = new k8s.core.v1.Secret(`${c.name}-controller-credential`, { metadata: meta(`${cid}-credential`), stringData: { 'primary-credential': pulumi.secret(primaryCredential) } }, inNs());
      const cfg = new k8s.core.v1.ConfigMap(`${c.name}-controller-config`, { metadata: meta(`${cid}-config`), data: controllerConfig.apply((x) => ({ [`${cid}.json`]: `${JSON.stringify(x, null, 2)}\n` })) }, inNs());
      const deployment = new k8s.apps.v1.Deployment(
        `${c.name}-controller`,
        {
          metadata: meta(cid),
          spec: {
            replicas: 1,
            // Never two controllers: the old one stops before the new one starts.
            strategy: { type: 'Recreate' },
            selector: { matchLabels: { ...labels, 'mailfleet.io/member': cid } },
            template: {
              metadata: { labels: { ...labels, 'mailfleet.io/member': cid } },
              spec: {
                // The standby's power account: its token scales the standby StatefulSet and nothing else.
                serviceAccountName: power.account.metadata.name,
                automountServiceAccountToken: true,
                securityContext: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, runAsNonRoot: true },
                containers: [
                  {
                    name: 'controller',
                    image: c.spec.runtime.image,
                    args: ['run', '--role', 'failover-controller', '--config', `${CONFIG_MOUNT}/${cid}.json`],
                    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
                    livenessProbe: { httpGet: { path: '/healthz', port: c.member.config.management.port } },
                    volumeMounts: [
                      { name: 'config', mountPath: CONFIG_MOUNT, readOnly: true },
                      { name: 'storage', mountPath: GUEST_PATHS.storage },
                      { name: 'power', mountPath: POWER_MOUNT, readOnly: true },
                      ...secretMounts,
                    ],
                  },
                ],
                volumes: [
                  { name: 'config', configMap: { name: cfg.metadata.name } },
                  storageVolume,
                  { name: 'power', secret: { secretName: credential.metadata.name, defaultMode: 0o400 } },
                  ...secretVolumes(secret.metadata.name),
                ],
              },
            },
          },
        },
        inNs({ dependsOn: [namespace, cfg, credential, secret, ...storageResources] }),
      );
      return [credential, cfg, deployment];
    },
  };
}
