import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import type { ClusterSpec } from '../../spec';
import type { SharedVolume } from '../types';
import type { HostResources } from './network';

/**
 * The shared storage on Docker: a volume of the `local` driver on each host.
 * Backed by NFS (the local driver mounts it: type=nfs, o=addr=...,
 * device=:/export) every host sees the same files, which is what lets any node
 * take over any mailbox. Without NFS (one host only) it is a plain local volume.
 */

export interface DockerVolumes extends SharedVolume {
  /** The volume on each host, by host index. */
  byHost: docker.Volume[];
}

/** Mount options for the local driver: `nfs4` in an fstab-style list means nfsvers=4 here; `addr=` goes first. */
export function nfsDriverOptions(server: string, path: string, options: string): Record<string, string> {
  const opts = options
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean)
    .map((o) => (o === 'nfs4' ? 'nfsvers=4' : o === 'nfs3' ? 'nfsvers=3' : o))
    .filter((o) => !o.startsWith('addr='));
  return { type: 'nfs', o: [`addr=${server}`, ...new Set(opts)].join(','), device: `:${path}` };
}

function nfsOf(storage: ClusterSpec['storage']): { server: string; path: string; options: string } | undefined {
  if (storage.kind === 'nfs') return { server: storage.server, path: storage.path, options: storage.options };
  if (storage.kind === 'docker-volume' && storage.nfs) return storage.nfs;
  return undefined;
}

export function volumeName(name: string): string {
  return `${name}-mail`;
}

export function createVolumes(name: string, spec: ClusterSpec, hosts: readonly HostResources[], parent: pulumi.Resource): DockerVolumes {
  const nfs = nfsOf(spec.storage);
  const byHost = hosts.map(
    (h) =>
      new docker.Volume(
        `${name}-storage-${h.plan.index}`,
        {
          name: volumeName(name),
          driver: 'local',
          driverOpts: nfs ? nfsDriverOptions(nfs.server, nfs.path, nfs.options) : undefined,
          labels: [{ label: 'mailfleet.cluster', value: name }],
        },
        // Mail lives here: never delete it by accident (an explicit `pulumi state` step is needed).
        { parent, provider: h.provider, protect: spec.environment === 'production' },
      ),
  );
  return {
    resources: byHost,
    byHost,
    description: pulumi.output(nfs ? `nfs ${nfs.server}:${nfs.path} (docker volume ${volumeName(name)} on ${hosts.length} host(s))` : `docker volume ${volumeName(name)}`),
  };
}
