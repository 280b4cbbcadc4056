import * as proxmox from '@muhlba91/pulumi-proxmoxve';
import * as pulumi from '@pulumi/pulumi';
import type { ClusterContext, PlatformAdapter, PlatformSession } from '../types';
import { proxmoxAppliances } from './appliances';
import { PROXMOX_PACKAGE, type ProxmoxCredentials } from './credentials';
import { haSetup } from './ha';
import { proxmoxLoadBalancer } from './load-balancer';
import { proxmoxSecretStore } from './secrets';
import type { ProxmoxBase } from './vm';
import { proxmoxVolume } from './volume';
import { proxmoxWorkload } from './workload';

/**
 * Proxmox VE adapter (@muhlba91/pulumi-proxmoxve, v8 `VmLegacy`): every
 * member is a VM fully cloned from a cloud-init template, spread round-robin
 * over the Proxmox nodes, configured by a cloud-init snippet (NFS mount,
 * Node.js, the runtime, a systemd unit) and kept running by Proxmox HA: an
 * HA group on Proxmox VE 8, HA rules per role on 9 (`platform.proxmoxVersion`,
 * see ./ha.ts), one HA resource per VM. Shared storage is the operator's NFS
 * export; the load balancer is HAProxy VMs with a keepalived VIP (or the
 * operator's own).
 *
 * `open` uses the caller's proxmoxve provider when there is one, otherwise
 * builds one (endpoint from the spec, credentials from the caller, see
 * ./credentials.ts), and on Proxmox VE 8 creates the HA group.
 */
export const proxmoxAdapter: PlatformAdapter<'proxmox', ProxmoxCredentials> = {
  kind: 'proxmox',
  open(ctx, parent, providers): PlatformSession {
    const provider = providers.explicit(PROXMOX_PACKAGE) ?? createProvider(ctx, providers.credentials, parent);
    const ha = haSetup(ctx.name, ctx.spec, { parent, provider });
    const base: ProxmoxBase = { name: ctx.name, spec: ctx.spec, provider, ha };
    return {
      secrets: () => proxmoxSecretStore(),
      volume: (volumeParent) => proxmoxVolume(ctx.spec, volumeParent),
      workload: (args, workloadParent) => proxmoxWorkload(base, ctx.secrets, args, workloadParent),
      loadBalancer: (args, lbParent) => proxmoxLoadBalancer(base, args, lbParent),
      appliances: (args, appliancesParent) => proxmoxAppliances(base, args, appliancesParent),
    };
  },
};

export { proxmoxMockOutputs } from './mocks';
export { proxmoxCredentialsFromStackConfig } from './credentials';
export type { ProxmoxCredentials } from './credentials';

/** The fallback provider: the spec's endpoint with the caller's credentials. */
function createProvider(ctx: ClusterContext<'proxmox'>, creds: ProxmoxCredentials | undefined, parent: pulumi.Resource): proxmox.Provider {
  const p = ctx.spec.platform;
  if (!creds) {
    throw new pulumi.ResourceError(
      `no Proxmox provider for ${p.endpoint}: give the component one (opts.providers with a ${PROXMOX_PACKAGE} provider) or pass credentials.proxmox.apiToken so it builds one`,
      parent,
    );
  }
  const privateKey = creds.ssh?.privateKey;
  return new proxmox.Provider(
    `${ctx.name}-proxmox`,
    {
      endpoint: p.endpoint,
      insecure: p.insecure,
      apiToken: pulumi.secret(creds.apiToken),
      // Snippet uploads go over SSH (the Proxmox API cannot write snippets).
      ssh: { username: creds.ssh?.username ?? 'root', agent: privateKey === undefined, ...(privateKey !== undefined ? { privateKey: pulumi.secret(privateKey) } : {}) },
    },
    { parent },
  );
}
