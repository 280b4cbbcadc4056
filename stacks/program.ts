import * as pulumi from '@pulumi/pulumi';
import {
  FAILOVER_SIDES,
  FailoverSite,
  MailCluster,
  PRIMARY_OUTPUTS,
  SpecError,
  credentialsFromStackConfig,
  parseClusterSpec,
  parseFailoverPairSpec,
  type ClientPort,
  type FailoverPairSpec,
  type FailoverSide,
  type SiteSettings,
} from '../components';

/**
 * The stack program: Pulumi config → validated spec → component.
 *
 * Config keys (namespace `mailfleet`):
 * - `topology`: `ha-cluster` (default) or `failover-pair`
 * - `cluster`: the ClusterSpec, as a YAML object (see components/spec.ts)
 * - failover-pair only (one stack per site, see failoverProgram):
 *   `pair` (the FailoverPairSpec, shared by both stacks through one Pulumi
 *   ESC environment), `site` (primary or standby), `primaryStack` (standby:
 *   the primary stack's fully qualified name for the StackReference),
 *   `powerEndpoint` (this site's platform API as the other site reaches it),
 *   `powerUser` / `powerPassword` (vSphere: the power-only principal),
 *   `dockerTlsCa` / `dockerTlsCert` / `dockerTlsKey` (Docker over TCP with
 *   --tlsverify: this host's engine CA and a client certificate + key it
 *   signed, PEM, secrets; all three or none)
 * - `placement` (ha-cluster, optional): what `mailfleet placement export`
 *   wrote, right before a change of `nodes.count`; a spec that removes a
 *   node still owning mailboxes is then refused (drain it first)
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

/** What a failover site's stack exports; the primary's `failover` and `failoverCredential` are what the standby reads. */
export interface FailoverStackOutputs {
  site: FailoverSide;
  memberId: string;
  state: 'running' | 'stopped';
  address: pulumi.Output<string>;
  adminToken: pulumi.Output<string>;
  failover: pulumi.Output<unknown>;
  failoverCredential: pulumi.Output<string>;
  /** Standby: the primary facts it was built from (a copy, for reviewers and policies). */
  primary?: pulumi.Output<unknown>;
}

function readObject(config: pulumi.Config, key: string): unknown {
  try {
    return config.getObject<unknown>(key);
  } catch (err) {
    throw new StackConfigError(`config mailfleet:${key} is not valid YAML/JSON: ${(err as Error).message}`);
  }
}

function specProblems(key: string, err: unknown): never {
  if (err instanceof SpecError) {
    throw new StackConfigError(`config mailfleet:${key} is invalid:\n${err.problems.map((p) => `  - mailfleet:${key}.${p.path}: ${p.message}`).join('\n')}`);
  }
  throw err;
}

/** This site's platform settings from stack config (components never read config). */
function siteSettings(config: pulumi.Config, spec: FailoverPairSpec, side: FailoverSide): SiteSettings {
  const kind = spec[side].platform.kind;
  const settings: SiteSettings = { powerEndpoint: config.get('powerEndpoint') };
  const creds = credentialsFromStackConfig(kind);
  if (creds.proxmox) settings.proxmox = creds.proxmox;
  if (creds.vsphere) settings.vsphere = creds.vsphere;
  if (kind === 'docker') {
    const keys = ['dockerTlsCa', 'dockerTlsCert', 'dockerTlsKey'] as const;
    const [caPem, certPem, keyPem] = keys.map((k) => config.getSecret(k));
    const given = keys.filter((_, i) => [caPem, certPem, keyPem][i] !== undefined);
    if (given.length > 0 && given.length < keys.length) {
      throw new StackConfigError(
        `config ${keys.filter((k) => !given.includes(k)).map((k) => `mailfleet:${k}`).join(', ')} missing: the engine's client bundle is the CA, the client certificate and its key together (pulumi config set --secret dockerTlsCert < cert.pem, …)`,
      );
    }
    if (caPem && certPem && keyPem) settings.dockerTls = { caPem, certPem, keyPem };
  }
  if (kind === 'vsphere') {
    const user = config.get('powerUser');
    const password = config.getSecret('powerPassword');
    if (!user || password === undefined) {
      throw new StackConfigError('config mailfleet:powerUser and mailfleet:powerPassword (secret) name the vCenter principal that holds the power-only role on this site\'s VM: pulumi config set powerUser <user>; pulumi config set --secret powerPassword <password>');
    }
    settings.vspherePowerUser = { user, password };
  }
  return settings;
}

/**
 * One site of a failover pair: `mailfleet:site` says which. The standby
 * reads the primary stack's outputs through a StackReference, so each site
 * deploys with only its own platform's API reachable.
 */
function failoverProgram(config: pulumi.Config): FailoverStackOutputs {
  const site = config.get('site');
  if (!site || !(FAILOVER_SIDES as readonly string[]).includes(site)) {
    throw new StackConfigError(`config mailfleet:site must be one of ${FAILOVER_SIDES.join(', ')} (got ${site === undefined ? 'nothing' : `"${site}"`}): which site of the pair this stack builds`);
  }
  const side = site as FailoverSide;
  const raw = readObject(config, 'pair');
  if (raw === undefined) {
    throw new StackConfigError('config mailfleet:pair is missing: it holds the failover pair spec, shared by both site stacks (a Pulumi ESC environment; see stacks/esc/)');
  }
  let spec: FailoverPairSpec;
  try {
    spec = parseFailoverPairSpec(raw);
  } catch (err) {
    specProblems('pair', err);
  }
  let primary: { facts: pulumi.Output<unknown>; credential: pulumi.Output<string> } | undefined;
  if (side === 'standby') {
    const name = config.get('primaryStack');
    if (!name) {
      throw new StackConfigError('config mailfleet:primaryStack is missing: the standby reads the primary stack\'s outputs, so name it (<organization>/<project>/<stack>, e.g. acme/mailfleet/failover-kubernetes-primary)');
    }
    const ref = new pulumi.StackReference(name);
    primary = { facts: ref.getOutput(PRIMARY_OUTPUTS.facts), credential: pulumi.secret(ref.getOutput(PRIMARY_OUTPUTS.credential) as pulumi.Output<string>) };
  }
  const s = new FailoverSite(spec.name, {
    spec,
    site: side,
    primary,
    secrets: { adminToken: config.getSecret('adminToken'), tlsPrivateKey: config.getSecret('tlsPrivateKey'), dkimPrivateKey: config.getSecret('dkimPrivateKey') },
    platform: siteSettings(config, spec, side),
  });
  return {
    site: side,
    memberId: s.memberId,
    state: s.state,
    address: s.address,
    adminToken: s.adminToken,
    [PRIMARY_OUTPUTS.facts]: s.facts,
    [PRIMARY_OUTPUTS.credential]: s.credential,
    ...(s.primary ? { primary: s.primary } : {}),
  } as FailoverStackOutputs;
}

export function stackProgram(config: pulumi.Config = new pulumi.Config('mailfleet')): StackOutputs | FailoverStackOutputs {
  const topology = config.get('topology') ?? 'ha-cluster';
  if (!(TOPOLOGIES as readonly string[]).includes(topology)) {
    throw new StackConfigError(`config mailfleet:topology must be one of ${TOPOLOGIES.join(', ')} (got "${topology}")`);
  }
  if (topology === 'failover-pair') return failoverProgram(config);
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
    placement: readObject(config, 'placement'),
  });
  return {
    endpoints: cluster.endpoints,
    adminUrl: cluster.adminUrl,
    adminToken: cluster.adminToken,
    members: cluster.members,
    storage: cluster.storage,
  };
}
