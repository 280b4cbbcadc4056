import * as pulumi from '@pulumi/pulumi';
import { MailCluster, SpecError, credentialsFromStackConfig, parseClusterSpec, type ClientPort } from '../components';

/**
 * The stack program: Pulumi config → validated spec → component.
 *
 * Config keys (namespace `mailfleet`):
 * - `topology`: `ha-cluster` (default) or `failover-pair`
 * - `cluster`: the ClusterSpec, as a YAML object (see components/spec.ts)
 * - secrets, all optional: `adminToken`, `tlsPrivateKey` (for tls.mode
 *   provided), `dkimPrivateKey` (generated when absent)
 *
 * Errors name the config key and the field inside it.
 */
export const TOPOLOGIES = ['ha-cluster', 'failover-pair'] as const;

export class StackConfigError extends pulumi.RunError {}

export interface StackOutputs {
  endpoints: pulumi.Output<Record<ClientPort, string>>;
  adminUrl: pulumi.Output<string>;
  adminToken: pulumi.Output<string>;
  members: pulumi.Output<{ memberId: string; role: string; site: string; address: string }[]>;
  storage: pulumi.Output<string>;
}

export function stackProgram(config: pulumi.Config = new pulumi.Config('mailfleet')): StackOutputs {
  const topology = config.get('topology') ?? 'ha-cluster';
  if (!(TOPOLOGIES as readonly string[]).includes(topology)) {
    throw new StackConfigError(`config mailfleet:topology must be one of ${TOPOLOGIES.join(', ')} (got "${topology}")`);
  }
  if (topology === 'failover-pair') {
    throw new StackConfigError('config mailfleet:topology "failover-pair" is not available yet: the FailoverPair component is still being built; use ha-cluster');
  }
  let raw: unknown;
  try {
    raw = config.getObject<unknown>('cluster');
  } catch (err) {
    throw new StackConfigError(`config mailfleet:cluster is not valid YAML/JSON: ${(err as Error).message}`);
  }
  if (raw === undefined) {
    throw new StackConfigError('config mailfleet:cluster is missing: it holds the cluster spec (see stacks/Pulumi.ha-*.yaml for complete examples)');
  }
  let spec;
  try {
    spec = parseClusterSpec(raw);
  } catch (err) {
    if (err instanceof SpecError) {
      throw new StackConfigError(
        `config mailfleet:cluster is invalid:\n${err.problems.map((p) => `  - mailfleet:cluster.${p.path}: ${p.message}`).join('\n')}`,
      );
    }
    throw err;
  }
  const cluster = new MailCluster(spec.name, {
    spec,
    secrets: {
      adminToken: config.getSecret('adminToken'),
      tlsPrivateKey: config.getSecret('tlsPrivateKey'),
      dkimPrivateKey: config.getSecret('dkimPrivateKey'),
    },
    // The platform provider's credentials, from its own config keys (components never read config).
    credentials: credentialsFromStackConfig(spec.platform.kind),
  });
  return {
    endpoints: cluster.endpoints,
    adminUrl: cluster.adminUrl,
    adminToken: cluster.adminToken,
    members: cluster.members,
    storage: cluster.storage,
  };
}
