import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import type { SharedVolume } from '../types';
import type { KubeEnv } from './meta';

/**
 * The shared storage every member mounts at /var/lib/mailfleet: mailboxes,
 * hub state, gateway queues.
 *
 * - `pvc-rwx`: one ReadWriteMany claim from the operator's storage class
 *   (CephFS, an NFS provisioner, EFS, Azure Files...).
 * - `nfs`: a PersistentVolume for the export plus a claim pre-bound to it
 *   (`volumeName` + `claimRef`, empty storage class so no provisioner steps
 *   in). Reclaim policy Retain: deleting the claim never deletes mail.
 *
 * In production the claim is `protect`ed: `pulumi destroy` of the stack must
 * not take every mailbox with it by accident.
 */

/** Annotations that describe the backup wish, for the snapshot scheduler the operator runs (mailfleet does not run one). */
export const BACKUP_ANNOTATIONS = {
  schedule: 'mailfleet.io/backup-schedule',
  retain: 'mailfleet.io/backup-retain',
  target: 'mailfleet.io/backup-target',
} as const;

/**
 * Mount options for a Kubernetes NFS volume. The spec's default names the
 * filesystem type (`nfs4`), which fstab accepts but mount.nfs does not as an
 * option; on Kubernetes the type is always nfs, so it becomes `nfsvers=4`.
 */
export function nfsMountOptions(options: string): string[] {
  return options
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o.length > 0 && o !== 'nfs')
    .map((o) => (o === 'nfs4' ? 'nfsvers=4' : o));
}

export function createVolume(env: KubeEnv, parent: pulumi.Resource): SharedVolume {
  const { ctx, names } = env;
  const storage = ctx.spec.storage;
  if (storage.kind !== 'pvc-rwx' && storage.kind !== 'nfs') {
    // Unreachable after validateKubernetesSpec; kept so the types narrow.
    throw new pulumi.ResourceError(`kubernetes: storage.kind "${storage.kind}" is not available; use pvc-rwx or nfs`, parent);
  }
  const size = `${storage.sizeGiB}Gi`;
  const annotations: Record<string, string> = storage.backup
    ? {
        [BACKUP_ANNOTATIONS.schedule]: storage.backup.schedule,
        [BACKUP_ANNOTATIONS.retain]: String(storage.backup.retain),
        ...(storage.backup.target ? { [BACKUP_ANNOTATIONS.target]: storage.backup.target } : {}),
      }
    : {};
  const protect = ctx.spec.environment === 'production';
  const resources: pulumi.Resource[] = [];

  if (storage.kind === 'pvc-rwx') {
    const pvc = new k8s.core.v1.PersistentVolumeClaim(
      `${ctx.name}-storage-pvc`,
      {
        metadata: env.meta(names.pvc, undefined, {
          ...annotations,
          // Storage classes with volumeBindingMode WaitForFirstConsumer bind only
          // once a pod mounts the claim; waiting for Bound here would deadlock
          // with the workloads that wait for this claim.
          'pulumi.com/skipAwait': 'true',
        }),
        spec: {
          accessModes: ['ReadWriteMany'],
          storageClassName: storage.storageClass,
          resources: { requests: { storage: size } },
        },
      },
      env.opts(parent, { protect }),
    );
    resources.push(pvc);
    return { resources, description: pulumi.output(`pvc ${names.pvc} (${storage.storageClass}, ${size}, ReadWriteMany)`) };
  }

  const pv = new k8s.core.v1.PersistentVolume(
    `${ctx.name}-storage-pv`,
    {
      // Cluster-scoped: no namespace in the metadata.
      metadata: { name: names.pv, labels: env.meta(names.pv).labels, annotations },
      spec: {
        capacity: { storage: size },
        accessModes: ['ReadWriteMany'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: '',
        mountOptions: nfsMountOptions(storage.options),
        nfs: { server: storage.server, path: storage.path },
        // Reserve the volume for our claim so no other claim can bind it first.
        claimRef: { namespace: names.namespace, name: names.pvc },
      },
    },
    env.opts(parent, { protect }),
  );
  const pvc = new k8s.core.v1.PersistentVolumeClaim(
    `${ctx.name}-storage-pvc`,
    {
      metadata: env.meta(names.pvc, undefined, annotations),
      spec: {
        accessModes: ['ReadWriteMany'],
        storageClassName: '',
        volumeName: pv.metadata.name,
        resources: { requests: { storage: size } },
      },
    },
    env.opts(parent, { protect }),
  );
  resources.push(pv, pvc);
  return { resources, description: pulumi.output(`nfs ${storage.server}:${storage.path} (pvc ${names.pvc}, ${size})`) };
}
