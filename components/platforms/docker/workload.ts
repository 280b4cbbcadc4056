import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { packageInfo } from '../../package-root';
import { GUEST_PATHS, type RenderedMember } from '../../render';
import type { ClusterSpec } from '../../spec';
import type { ClusterSecrets, Workload, WorkloadArgs } from '../types';
import { crossHostEntries, hostOf, staticAddress, type HostPlan, type HostResources } from './network';
import { CONFIG_FILE, configUpload, secretUploads } from './secrets';
import type { DockerVolumes } from './volume';

/**
 * What `runtime.build` builds from: the mailfleet repository checkout this
 * code runs from (its Dockerfile and sources). An installed package ships
 * compiled code only, so there is nothing to build from there.
 */
export function buildContext(): { context: string; dockerfile: string } {
  const { root } = packageInfo();
  return { context: root, dockerfile: join(root, 'Dockerfile') };
}

/** runtime.build needs a checkout: fail before anything is created when the Dockerfile is not there. */
export function checkRuntimeBuild(spec: ClusterSpec, parent: pulumi.Resource): void {
  if (!spec.runtime.build) return;
  const { context, dockerfile } = buildContext();
  if (!existsSync(dockerfile)) {
    throw new pulumi.ResourceError(
      `runtime.build: the runtime image is built from the mailfleet repository's Dockerfile, and ${context} has none (an installed package holds compiled code only); build and push the image from a checkout and set runtime.image instead`,
      parent,
    );
  }
}

/**
 * The runtime image on each host: built there from the repository's
 * Dockerfile (`runtime.build`; never pushed anywhere), or pulled from
 * `runtime.image`. Returns the image reference containers use, per host.
 */
export function createRuntimeImages(name: string, spec: ClusterSpec, hosts: readonly HostResources[], parent: pulumi.Resource): { resources: pulumi.Resource[]; refs: pulumi.Output<string>[] } {
  if (spec.runtime.build) {
    const images = hosts.map(
      (h) =>
        new docker.Image(
          `${name}-image-${h.plan.index}`,
          {
            imageName: `mailfleet-${name}:${packageInfo().version}`,
            build: { ...buildContext(), target: 'runtime' },
            skipPush: true,
          },
          { parent, provider: h.provider },
        ),
    );
    return { resources: images, refs: images.map((i) => i.imageName) };
  }
  const images = hosts.map(
    (h) => new docker.RemoteImage(`${name}-image-${h.plan.index}`, { name: spec.runtime.image, keepLocally: true }, { parent, provider: h.provider }),
  );
  // The pulled image's id: a container is replaced exactly when the image really changes.
  return { resources: images, refs: images.map((i) => i.imageId) };
}

/** Docker health check: ready means serving its role (GET /readyz on the management port). */
export function readinessCheck(port: number): docker.types.input.ContainerHealthcheck {
  const js = `require('node:http').get('http://127.0.0.1:${port}/readyz', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))`;
  return { tests: ['CMD', 'node', '-e', js], interval: '10s', timeout: '5s', retries: 3, startPeriod: '30s' };
}

/** Lets the unprivileged runtime user bind the standard mail ports inside its own network namespace. */
export const UNPRIVILEGED_PORTS_SYSCTL = { 'net.ipv4.ip_unprivileged_port_start': '0' } as const;

export interface WorkloadContext {
  name: string;
  members: readonly RenderedMember[];
  secrets: ClusterSecrets;
  hosts: readonly HostResources[];
  plans: readonly HostPlan[];
  images: pulumi.Output<string>[];
  volumes: () => DockerVolumes;
}

/** One container per member, on its host's network, with config and secrets uploaded as files. */
export function createWorkload(ctx: WorkloadContext, args: WorkloadArgs, parent: pulumi.Resource): Workload {
  const volumes = ctx.volumes();
  const containers = args.members.map((m) => {
    const host = hostOf(m, ctx.plans);
    const h = ctx.hosts[host.index]!;
    const ip = staticAddress(m.role as 'hub' | 'node' | 'gateway' | 'proxy', m.index, ctx.plans);
    const container = new docker.Container(
      m.memberId,
      {
        name: m.memberId,
        hostname: m.memberId,
        image: ctx.images[host.index]!,
        restart: 'unless-stopped',
        envs: [`MAILFLEET_CONFIG=${CONFIG_FILE}`],
        uploads: [configUpload(m.config), ...secretUploads(m.config, ctx.secrets)],
        mounts: [{ type: 'volume', source: volumes.byHost[host.index]!.name, target: GUEST_PATHS.storage }],
        networksAdvanced: [{ name: h.network.name, aliases: [m.memberId], ipv4Address: ip }],
        hosts: crossHostEntries(ctx.members, host, ctx.plans),
        sysctls: { ...UNPRIVILEGED_PORTS_SYSCTL },
        memory: args.size.memoryMiB,
        cpus: String(args.size.cpu),
        healthcheck: readinessCheck(m.config.management.port),
        // Time to drain sessions and finish group commits before SIGKILL.
        destroyGraceSeconds: 30,
        stopTimeout: 30,
        logDriver: 'json-file',
        logOpts: { 'max-size': '20m', 'max-file': '5' },
        labels: [
          { label: 'mailfleet.cluster', value: ctx.name },
          { label: 'mailfleet.role', value: m.role },
          { label: 'mailfleet.member', value: m.memberId },
        ],
      },
      { parent, provider: h.provider, dependsOn: [...args.volume.resources, ...args.secretStore.resources] },
    );
    return container;
  });
  return {
    resources: containers,
    addresses: containers.map((c, i) =>
      c.networkDatas.apply((nets) => nets?.find((n) => n.ipAddress)?.ipAddress ?? args.members[i]!.address),
    ),
  };
}
