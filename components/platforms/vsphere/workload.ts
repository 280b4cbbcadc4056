import * as pulumi from '@pulumi/pulumi';
import { memberUserData, type SecretInputs } from '../../cloud-init';
import type { ClusterContext, Workload, WorkloadArgs } from '../types';
import type { Inventory } from './inventory';
import { antiAffinityRule, createVm } from './vm';
import { nfsMountOf } from './volume';

/**
 * The members of one role: one VM per member, cloned from the template and
 * set up by the shared cloud-init renderer (mount NFS, install Node.js and
 * the runtime, write the member's RuntimeConfig and secret files, start the
 * systemd unit), plus a DRS anti-affinity rule when the role has two or more
 * members.
 */
export function createWorkload(inv: Inventory, ctx: ClusterContext<'vsphere'>, args: WorkloadArgs, parent: pulumi.Resource): Workload {
  const spec = ctx.spec;
  const net = spec.platform.addresses;
  const storage = nfsMountOf(spec.storage, parent);
  const s = ctx.secrets;
  const secrets: SecretInputs = {
    adminToken: s.adminToken,
    clusterToken: s.clusterToken,
    tlsCertPem: s.tlsCertPem,
    tlsKeyPem: s.tlsKeyPem,
    dkimKeyPem: s.dkimKeyPem,
    internalCaPem: s.internalCaPem,
    internalCaKeyPem: s.internalCaKeyPem,
    hubInternalCertPem: s.hubInternalCertPem,
    hubInternalKeyPem: s.hubInternalKeyPem,
    nodeInternalCertPem: s.internalLeaves?.node.certPem,
    nodeInternalKeyPem: s.internalLeaves?.node.keyPem,
    gatewayInternalCertPem: s.internalLeaves?.gateway.certPem,
    gatewayInternalKeyPem: s.internalLeaves?.gateway.keyPem,
  };
  const dependsOn = [...args.volume.resources, ...args.secretStore.resources];
  const vms = args.members.map((member) => {
    if (member.role !== args.role) {
      throw new pulumi.ResourceError(`member ${member.memberId} has role ${member.role}, not ${args.role}`, parent);
    }
    // memberUserData checks synchronously that every secret the config names is present, and returns a secret.
    const userData = memberUserData(
      {
        member,
        storage,
        runtime: { packageUrl: spec.runtime.packageUrl, sha256: spec.runtime.sha256, nodeMajor: spec.runtime.nodeMajor },
        secrets,
        domain: net.searchDomain,
      },
      parent,
    );
    return createVm(
      inv,
      spec.name,
      {
        resourceName: `${ctx.name}-${args.role}-${member.index}`,
        hostname: member.memberId,
        purpose: args.role,
        address: member.address,
        size: args.size,
        userData,
        network: { cidr: net.cidr, gateway: net.gateway, dns: net.dns, searchDomain: net.searchDomain },
        dependsOn,
      },
      parent,
    );
  });
  const rule = antiAffinityRule(inv, `${ctx.name}-${args.role}-anti-affinity`, `${spec.name}-${args.role}-anti-affinity`, vms, parent);
  return {
    resources: rule ? [...vms, rule] : vms,
    // Static addresses from the spec's plan, known once the VM exists.
    addresses: vms.map((vm, i) => vm.id.apply(() => args.members[i]!.address)),
  };
}
