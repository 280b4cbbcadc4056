import { createHash } from 'node:crypto';
import type { MockOutputs } from '../../offline/mock-outputs';

/**
 * What the Docker daemon would report, faked deterministically for offline
 * runs: container network data (the fixed address when one was asked for,
 * else one from Docker's default bridge range), image ids, volume mount points.
 */
const digest = (s: string) => createHash('sha256').update(s).digest('hex');

export const dockerMockOutputs: MockOutputs = (type, name, inputs) => {
  switch (type) {
    case 'docker:index/container:Container': {
      const nets = (inputs.networksAdvanced as { name?: string; ipv4Address?: string }[] | undefined) ?? [];
      const h = createHash('sha256').update(name).digest();
      return {
        networkDatas: nets.map((n) => ({
          networkName: n.name ?? 'bridge',
          ipAddress: n.ipv4Address ?? `172.18.${h[0]! % 250}.${2 + (h[1]! % 250)}`,
          ipPrefixLength: n.ipv4Address ? 24 : 16,
          gateway: n.ipv4Address ? n.ipv4Address.replace(/\.\d+$/, '.1') : '172.18.0.1',
          macAddress: `02:42:${[...h.subarray(2, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`,
        })),
        exitCode: 0,
      };
    }
    case 'docker:index/remoteImage:RemoteImage':
      return { imageId: `sha256:${digest(`${name}:${String(inputs.name)}`)}`, repoDigest: `${String(inputs.name).split('@')[0]}@sha256:${digest(String(inputs.name))}` };
    case 'docker:index/image:Image':
      return { imageName: String(inputs.imageName), repoDigest: '', baseImageName: String(inputs.imageName), registryServer: '' };
    case 'docker:index/volume:Volume':
      return { mountpoint: `/var/lib/docker/volumes/${String(inputs.name)}/_data` };
    case 'docker:index/network:Network':
      return { scope: 'local' };
    default:
      return undefined;
  }
};
