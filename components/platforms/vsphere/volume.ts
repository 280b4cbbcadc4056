import * as pulumi from '@pulumi/pulumi';
import type { NfsMount } from '../../cloud-init';
import type { ClusterSpec } from '../../spec';
import type { SharedVolume } from '../types';

/**
 * Shared storage on vSphere is NFS mounted inside each guest (cloud-init
 * writes the fstab entry, see components/cloud-init). An NFS *datastore*
 * (NasDatastore) is deliberately not used: a datastore only holds VM disks,
 * and a VMDK cannot be mounted read-write by several VMs with an ordinary
 * filesystem, while every member must see the same mailbox files with the
 * NFS semantics the lease-and-epoch fencing relies on (DESIGN.md). So nothing
 * is created here; the NFS server is the operator's.
 */
export function nfsMountOf(storage: ClusterSpec['storage'], parent: pulumi.Resource): NfsMount {
  if (storage.kind !== 'nfs') {
    throw new pulumi.ResourceError(`storage.kind: "${storage.kind}" is not available on vsphere; use nfs`, parent);
  }
  return { server: storage.server, path: storage.path, options: storage.options };
}

export function nfsVolume(storage: ClusterSpec['storage'], parent: pulumi.Resource): SharedVolume {
  const m = nfsMountOf(storage, parent);
  return { resources: [], description: pulumi.output(`nfs ${m.server}:${m.path} (mounted in each VM)`) };
}
