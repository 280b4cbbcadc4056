/**
 * Type tokens the policies look for. Component tokens are repeated here as
 * strings (not imported from the component classes) because the pack must
 * load without the components and their provider SDKs; a test checks they
 * equal the classes' `type`.
 */
export const COMPONENT = {
  mailCluster: 'mailfleet:index:MailCluster',
  /** One site of a failover pair (one stack per site); it registers the whole pair's spec. */
  failoverSite: 'mailfleet:index:FailoverSite',
  hub: 'mailfleet:index:Hub',
  node: 'mailfleet:index:MailNode',
  gateway: 'mailfleet:index:Gateway',
  proxy: 'mailfleet:index:Proxy',
  sharedStorage: 'mailfleet:index:SharedStorage',
  loadBalancer: 'mailfleet:index:LoadBalancer',
} as const;

/** Provider resource types the resource-level rules read. */
export const K8S = {
  configMap: 'kubernetes:core/v1:ConfigMap',
  secret: 'kubernetes:core/v1:Secret',
  service: 'kubernetes:core/v1:Service',
  pvc: 'kubernetes:core/v1:PersistentVolumeClaim',
  pv: 'kubernetes:core/v1:PersistentVolume',
  pod: 'kubernetes:core/v1:Pod',
  statefulSet: 'kubernetes:apps/v1:StatefulSet',
  deployment: 'kubernetes:apps/v1:Deployment',
  daemonSet: 'kubernetes:apps/v1:DaemonSet',
  replicaSet: 'kubernetes:apps/v1:ReplicaSet',
  job: 'kubernetes:batch/v1:Job',
  cronJob: 'kubernetes:batch/v1:CronJob',
  ingress: 'kubernetes:networking.k8s.io/v1:Ingress',
} as const;

/** Kubernetes kinds that carry a pod template (`spec.template.spec`), and where. */
export const K8S_POD_TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  [K8S.pod]: ['spec'],
  [K8S.statefulSet]: ['spec', 'template', 'spec'],
  [K8S.deployment]: ['spec', 'template', 'spec'],
  [K8S.daemonSet]: ['spec', 'template', 'spec'],
  [K8S.replicaSet]: ['spec', 'template', 'spec'],
  [K8S.job]: ['spec', 'template', 'spec'],
  [K8S.cronJob]: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

export const DOCKER = {
  container: 'docker:index/container:Container',
  volume: 'docker:index/volume:Volume',
  image: 'docker:index/image:Image',
  remoteImage: 'docker:index/remoteImage:RemoteImage',
  provider: 'pulumi:providers:docker',
} as const;

export const PROXMOX = {
  /** The classic VM resource of @muhlba91/pulumi-proxmoxve v8 (shared/TOOLCHAIN.md). */
  vmLegacy: 'proxmoxve:index/vmLegacy:VmLegacy',
  vm: 'proxmoxve:index/vm:Vm',
  /** Snippet uploads (cloud-init user data). */
  fileLegacy: 'proxmoxve:index/fileLegacy:FileLegacy',
  haGroup: 'proxmoxve:index/hagroup:Hagroup',
  haResource: 'proxmoxve:index/haresource:Haresource',
  /** Proxmox VE 9 HA rules (node affinity, resource affinity), which replaced HA groups. */
  haRule: 'proxmoxve:index/harule:Harule',
  provider: 'pulumi:providers:proxmoxve',
} as const;

export const VSPHERE = {
  virtualMachine: 'vsphere:index/virtualMachine:VirtualMachine',
  antiAffinityRule: 'vsphere:index/computeClusterVmAntiAffinityRule:ComputeClusterVmAntiAffinityRule',
  provider: 'pulumi:providers:vsphere',
} as const;

/** True for a provider resource (`pulumi:providers:<pkg>`). */
export function isProviderType(type: string): boolean {
  return type.startsWith('pulumi:providers:');
}
