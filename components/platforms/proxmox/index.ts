import * as proxmox from '@muhlba91/pulumi-proxmoxve';
import type { PlatformAdapter, PlatformSession } from '../types';
import { readCredentials } from './credentials';
import { proxmoxLoadBalancer } from './load-balancer';
import { proxmoxSecretStore } from './secrets';
import { haGroupName } from './validate';
import type { ProxmoxBase } from './vm';
import { proxmoxVolume } from './volume';
import { proxmoxWorkload } from './workload';

/**
 * Proxmox VE adapter (@muhlba91/pulumi-proxmoxve, v8 `VmLegacy`): every
 * member is a VM fully cloned from a cloud-init template, spread round-robin
 * over the Proxmox nodes, configured by a cloud-init snippet (NFS mount,
 * Node.js, the runtime, a systemd unit) and kept running by Proxmox HA (one
 * HA group over the nodes, one HA resource per VM). Shared storage is the
 * operator's NFS export; the load balancer is HAProxy VMs with a keepalived
 * VIP (or the operator's own).
 *
 * `open` creates the provider (endpoint from the spec, API token from stack
 * config, see ./credentials.ts) and the HA group.
 */
export const proxmoxAdapter: PlatformAdapter<'proxmox'> = {
  kind: 'proxmox',
  open(ctx, parent): PlatformSession {
    const p = ctx.spec.platform;
    const creds = readCredentials(parent);
    const provider = new proxmox.Provider(
      `${ctx.name}-proxmox`,
      {
        endpoint: p.endpoint,
        insecure: p.insecure,
        apiToken: creds.apiToken,
        // Snippet uploads go over SSH (the Proxmox API cannot write snippets).
        ssh: { username: creds.ssh.username, agent: creds.ssh.agent, ...(creds.ssh.privateKey ? { privateKey: creds.ssh.privateKey } : {}) },
      },
      { parent },
    );
    const haGroup = new proxmox.Hagroup(
      `${ctx.name}-ha-group`,
      {
        group: haGroupName(ctx.spec),
        comment: `mailfleet cluster ${ctx.spec.name}`,
        // Equal priority on every node: HA restarts a VM on any surviving node.
        nodes: Object.fromEntries(p.nodes.map((n) => [n, 1])),
        // Never run the mail VMs outside the listed nodes.
        restricted: true,
        // Do not move a VM back when its node returns: a migration is a needless interruption.
        noFailback: true,
      },
      { parent, provider },
    );
    const base: ProxmoxBase = { name: ctx.name, spec: ctx.spec, provider, haGroup };
    return {
      secrets: () => proxmoxSecretStore(),
      volume: (volumeParent) => proxmoxVolume(ctx.spec, volumeParent),
      workload: (args, workloadParent) => proxmoxWorkload(base, ctx.secrets, args, workloadParent),
      loadBalancer: (args, lbParent) => proxmoxLoadBalancer(base, args, lbParent),
    };
  },
};

export { proxmoxMockOutputs } from './mocks';
export { vmIdFor } from './workload';
export { nodeFor } from './vm';
export { API_TOKEN_KEYS } from './credentials';
