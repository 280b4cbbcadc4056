import * as pulumi from '@pulumi/pulumi';
import type { ClusterContext, PlatformAdapter, PlatformSession, ProviderSources } from '../types';
import { createAppliances } from './appliances';
import { createLoadBalancer } from './load-balancer';
import { chooseHostProviders, createHosts, planHosts } from './network';
import { createSecretStore } from './secrets';
import { createVolumes, type DockerVolumes } from './volume';
import { checkRuntimeBuild, createRuntimeImages, createWorkload } from './workload';

/**
 * Docker platform (@pulumi/docker): per host a provider (the caller's, see
 * MailClusterArgs.dockerHosts, or one built from the host URL) and a bridge network;
 * a volume on each host (NFS-backed to share it between hosts); the runtime
 * image built from this repository's Dockerfile or pulled; one container per
 * member spread round robin over the hosts; HAProxy containers in front.
 * See network.ts for how members on different hosts reach each other.
 */
export const dockerAdapter: PlatformAdapter<'docker'> = {
  kind: 'docker',
  open(ctx: ClusterContext<'docker'>, parent: pulumi.ComponentResource, providers: ProviderSources<never>): PlatformSession {
    const { name, spec } = ctx;
    // Validate everything before the first resource exists.
    // Hosts, storage and the address plan were checked by the spec's validation.
    const plans = planHosts(spec);
    const given = chooseHostProviders(plans, providers, parent);
    checkRuntimeBuild(spec, parent);
    const hosts = createHosts(name, spec.platform, plans, given, parent);
    const images = createRuntimeImages(name, spec, hosts, parent);
    let volumes: DockerVolumes | undefined;
    const volumesOrFail = () => {
      if (!volumes) throw new pulumi.ResourceError('the docker adapter creates the shared volume before any workload (session.volume first)', parent);
      return volumes;
    };
    return {
      secrets: () => createSecretStore(),
      volume: (p) => {
        volumes ??= createVolumes(name, spec, hosts, p);
        return volumes;
      },
      workload: (args, p) =>
        createWorkload({ name, members: ctx.members, secrets: ctx.secrets, hosts, plans, images: images.refs, volumes: volumesOrFail }, args, p),
      loadBalancer: (args, p) => createLoadBalancer({ name, spec, members: ctx.members, hosts, plans }, args, p),
      appliances: (args, p) => createAppliances({ name, spec, hosts }, args, p),
    };
  },
};

export { dockerMockOutputs } from './mocks';
