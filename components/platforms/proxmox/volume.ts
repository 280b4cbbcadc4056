import * as pulumi from '@pulumi/pulumi';
import type { NfsMount } from '../../cloud-init';
import { MAILFLEET_UID } from '../../cloud-init';
import type { SharedVolume } from '../types';
import type { ProxmoxSpec } from './vm';

/**
 * Shared storage on Proxmox is an external NFS export (spec.storage, kind
 * nfs) that every VM mounts at /var/lib/mailfleet through cloud-init. Nothing
 * is created on Proxmox for it — a Proxmox NFS *storage* would hold VM disks,
 * not a filesystem the guests share — so this only validates and describes.
 *
 * What the export must provide (the operator's NFS server, not Proxmox): rw
 * for the VM subnet, files owned by uid/gid MAILFLEET_UID (2525) or
 * `all_squash,anonuid=2525,anongid=2525`, and the backups in spec.storage.backup
 * (snapshots are the NFS server's job).
 */
export function nfsMountOf(spec: ProxmoxSpec, parent: pulumi.Resource): NfsMount {
  const s = spec.storage;
  if (s.kind !== 'nfs') throw new pulumi.ResourceError(`storage.kind: "${s.kind}" is not available on proxmox; use nfs`, parent);
  return { server: s.server, path: s.path, options: s.options };
}

export function proxmoxVolume(spec: ProxmoxSpec, parent: pulumi.Resource): SharedVolume {
  const m = nfsMountOf(spec, parent);
  const s = spec.storage as Extract<ProxmoxSpec['storage'], { kind: 'nfs' }>;
  const backup = s.backup ? `; backup ${s.backup.schedule}, keep ${s.backup.retain}${s.backup.target ? ` → ${s.backup.target}` : ''} (on the NFS server)` : '; no backup configured';
  return {
    resources: [],
    description: pulumi.output(`nfs ${m.server}:${m.path} (${s.sizeGiB} GiB, external, owner uid ${MAILFLEET_UID}${backup})`),
  };
}
