import type { PolicyResource, StackValidationPolicy } from '@pulumi/policy';
import { labelsOf } from '../lib/platform';
import { K8S, DOCKER } from '../lib/tokens';
import { clustersOf, label, reportUnreadable, roleCount } from '../lib/topology';
import { at, items, str } from '../lib/walk';

/**
 * 3. Shared storage is shared. Any node must be able to take over any
 * mailbox, so every member mounts the same storage: NFS or a ReadWriteMany
 * volume. A node-local volume (a ReadWriteOnce claim, a Docker volume on
 * one of several hosts, a local directory) splits the mail between nodes
 * and makes failover lose it.
 */

function dockerVolumeIsNfs(props: unknown): boolean {
  const opts = at(props, 'driverOpts');
  const type = str(at(opts, 'type'));
  const o = str(at(opts, 'o')) ?? '';
  return (type !== undefined && /^nfs4?$/.test(type)) || /(^|,)addr=/.test(o);
}

/**
 * Docker volumes that only the appliances beside the gateways mount
 * (containers labelled mailfleet.role=appliance: clamd's signatures, one
 * volume per host by design). They hold no mail, so the rule leaves them be.
 */
function applianceOnlyVolumes(resources: readonly PolicyResource[]): Set<string> {
  const byAppliances = new Set<string>();
  const byOthers = new Set<string>();
  for (const r of resources) {
    if (r.type !== DOCKER.container) continue;
    const appliance = labelsOf(r).some((l) => l.key === 'mailfleet.role' && l.value === 'appliance');
    for (const m of items(at(r.props, 'mounts'))) {
      const source = str(at(m, 'source'));
      if (source !== undefined) (appliance ? byAppliances : byOthers).add(source);
    }
  }
  return new Set([...byAppliances].filter((v) => !byOthers.has(v)));
}

export const sharedStorage: StackValidationPolicy = {
  name: 'shared-storage',
  description: 'A cluster with more than one mail node keeps mail on storage every member shares: NFS or a ReadWriteMany volume, never a node-local volume.',
  enforcementLevel: 'mandatory',
  tags: ['storage', 'kubernetes', 'docker', 'proxmox', 'vsphere'],
  remediationSteps: 'Use storage.kind nfs or pvc-rwx (a ReadWriteMany storage class); on Docker with several hosts back the docker-volume by NFS (storage.nfs).',
  validateStack: (args, reportViolation) => {
    const { views, unreadable } = clustersOf(args);
    reportUnreadable(unreadable, reportViolation);
    for (const c of views) {
      if (roleCount(c.spec, 'node') < 2) continue;
      const storage = c.spec.storage;
      const kind = storage?.kind;
      const platform = c.spec.platform;
      if (kind === 'local-dir') {
        reportViolation(`cluster ${label(c)} has ${roleCount(c.spec, 'node')} nodes on a local directory (storage.kind local-dir): use nfs or pvc-rwx so every node reaches every mailbox.`, c.resource.urn);
      } else if (storage?.kind === 'docker-volume' && !storage.nfs && platform.kind === 'docker' && new Set(platform.hosts ?? []).size > 1) {
        reportViolation(
          `cluster ${label(c)} spreads ${roleCount(c.spec, 'node')} nodes over ${platform.hosts?.length ?? 0} Docker hosts but its docker-volume is local to each host: set storage.nfs (server, path) so all hosts mount the same export.`,
          c.resource.urn,
        );
      }
      // What will be deployed: every claim the members mount is RWX, every Docker volume NFS-backed when hosts differ.
      const notMail = applianceOnlyVolumes(c.descendants);
      for (const r of c.descendants) {
        if (r.type === K8S.pvc) {
          const modes = items(at(r.props, 'spec', 'accessModes')).map((m) => str(m));
          if (!modes.includes('ReadWriteMany')) {
            reportViolation(`PersistentVolumeClaim "${r.name}" is ${modes.filter(Boolean).join(', ') || 'without access modes'}: the shared mail volume must be ReadWriteMany (accessModes: [ReadWriteMany]) so pods on different hosts mount it.`, r.urn);
          }
        } else if (r.type === K8S.pv) {
          const modes = items(at(r.props, 'spec', 'accessModes')).map((m) => str(m));
          if (!modes.includes('ReadWriteMany')) {
            reportViolation(`PersistentVolume "${r.name}" is ${modes.filter(Boolean).join(', ') || 'without access modes'}: declare it ReadWriteMany.`, r.urn);
          }
        } else if (r.type === DOCKER.volume && platform.kind === 'docker' && new Set(platform.hosts ?? []).size > 1 && !dockerVolumeIsNfs(r.props) && !notMail.has(str(at(r.props, 'name')) ?? '')) {
          reportViolation(`Docker volume "${r.name}" is local to its host while the cluster spans ${platform.hosts?.length ?? 0} hosts: use the local driver with NFS options (type=nfs, o=addr=...).`, r.urn);
        }
      }
    }
  },
};
