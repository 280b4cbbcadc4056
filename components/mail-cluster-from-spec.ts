import * as pulumi from '@pulumi/pulumi';
import { YAMLParseError, parse as parseYaml } from 'yaml';
import { MailCluster } from './mail-cluster';
import type { PlatformCredentials } from './platforms';
import type { ClusterSpecInput } from './spec';

/**
 * The façade other Pulumi languages use (Python, Go, C#, Java, YAML through
 * `pulumi package add`): MailCluster with a surface Pulumi's component
 * analyzer (`@pulumi/pulumi/provider/experimental/analyzer`) can turn into a
 * schema. The analyzer rejects unions, so the topology travels as one string
 * (the same YAML or JSON as examples/specs/) and every other input is a
 * plain string; the outputs are MailCluster's, typed with interfaces and an
 * enum. This is the one place CONVENTIONS.md allows enums. TypeScript
 * programs use MailCluster directly.
 */

/** `host:port` clients use for each service, through the load balancer. */
export interface ClusterEndpoints {
  smtp: string;
  submission: string;
  smtps: string;
  imap: string;
  imaps: string;
  pop3: string;
  pop3s: string;
}

/** What a cluster member does (DESIGN.md "The roles"). */
export enum MemberRole {
  Hub = 'hub',
  Node = 'node',
  Gateway = 'gateway',
  Proxy = 'proxy',
}

/** One member of the cluster. */
export interface ClusterMemberInfo {
  memberId: string;
  role: MemberRole;
  site: string;
  /** Address other members and the load balancer reach it on. */
  address: string;
}

export interface MailClusterFromSpecArgs {
  /**
   * The cluster spec as YAML or JSON text: the schema of examples/specs/
   * (components/spec.ts). Validated before anything is created; a bad field
   * fails the deployment with its path. Must be known when the program runs
   * (a literal, a config value, `fn::toJSON`), not another resource's output.
   */
  spec: string;
  /** Admin API token; generated (random, 48 characters) when absent. Kept a secret. */
  adminToken?: pulumi.Input<string>;
  /** PEM private key for `tls.mode: provided`. Kept a secret. */
  tlsPrivateKey?: pulumi.Input<string>;
  /** PEM DKIM signing key; generated when DKIM is configured and this is absent. Kept a secret. */
  dkimPrivateKey?: pulumi.Input<string>;
  /** The previous resource name after a rename: every resource is moved, not replaced. */
  renamedFrom?: string;
  /**
   * Proxmox API token (`USER@REALM!TOKENID=SECRET`) for the provider the
   * component builds when the program gives it no `proxmoxve` provider.
   */
  proxmoxApiToken?: pulumi.Input<string>;
  /** SSH user for snippet uploads to the Proxmox nodes; default `root`. */
  proxmoxSshUsername?: string;
  /** SSH key (PEM) for snippet uploads; the deploying machine's SSH agent when absent. */
  proxmoxSshPrivateKey?: pulumi.Input<string>;
  /** vCenter user for the provider the component builds when the program gives it no `vsphere` provider. */
  vsphereUser?: pulumi.Input<string>;
  /** vCenter password (with vsphereUser). Kept a secret. */
  vspherePassword?: pulumi.Input<string>;
}

/**
 * A highly available mail cluster from a spec document: hubs, mail nodes,
 * gateways and proxies on shared storage behind a load balancer, on
 * Kubernetes, Docker, Proxmox VE or vSphere. Providers given to it
 * (`providers` resource option) are used; otherwise it builds them from the
 * spec and the credential inputs.
 */
export class MailClusterFromSpec extends pulumi.ComponentResource {
  /** `host:port` for each client service. */
  readonly endpoints: pulumi.Output<ClusterEndpoints>;
  /** The hub's admin API, reachable inside the cluster network. */
  readonly adminUrl: pulumi.Output<string>;
  /** Bearer token for the admin API. A secret. */
  readonly adminToken: pulumi.Output<string>;
  /** Every member with its role, site and address. */
  readonly members: pulumi.Output<ClusterMemberInfo[]>;
  /** The shared storage, in words (`nfs 10.0.0.5:/export/mail ...`). */
  readonly storage: pulumi.Output<string>;

  constructor(name: string, args: MailClusterFromSpecArgs, opts?: pulumi.ComponentResourceOptions) {
    const from = plainString(args.renamedFrom, 'renamedFrom');
    super('mailfleet:index:MailClusterFromSpec', name, {}, from && from !== name ? pulumi.mergeOptions(opts, { aliases: [{ name: from }] }) : opts);
    const text = plainString(args.spec, 'spec', this);
    if (text === undefined || text.trim() === '') {
      throw new pulumi.ResourceError('spec: required: the cluster spec as YAML or JSON text (see examples/specs/)', this);
    }
    let spec: unknown;
    try {
      spec = parseYaml(text);
    } catch (err) {
      throw new pulumi.ResourceError(`spec: not valid YAML or JSON: ${err instanceof YAMLParseError ? err.message : String(err)}`, this);
    }
    // Named like this component, so a rename of this one carries down to
    // every resource (the engine aliases children named after their parent).
    const cluster = new MailCluster(
      name,
      {
        spec: spec as ClusterSpecInput,
        secrets: { adminToken: args.adminToken, tlsPrivateKey: args.tlsPrivateKey, dkimPrivateKey: args.dkimPrivateKey },
        credentials: credentialsOf(args, this),
      },
      { parent: this },
    );
    this.endpoints = cluster.endpoints;
    this.adminUrl = cluster.adminUrl;
    this.adminToken = cluster.adminToken;
    this.members = cluster.members.apply((ms) => ms.map((m) => ({ ...m, role: m.role as MemberRole })));
    this.storage = cluster.storage;
    this.registerOutputs({
      endpoints: this.endpoints,
      adminUrl: this.adminUrl,
      adminToken: this.adminToken,
      members: this.members,
      storage: this.storage,
    });
  }
}

/**
 * A plain string input. Another language's engine call delivers an input as
 * an Output when it is a secret or comes from another resource; the spec
 * must be known before anything is created, so that is refused by name.
 */
function plainString(value: unknown, field: string, parent?: pulumi.Resource): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new pulumi.ResourceError(
      `${field}: must be plain text known before deployment (got ${pulumi.Output.isInstance(value) ? "another resource's output or a secret" : typeof value})`,
      parent,
    );
  }
  return value;
}

function credentialsOf(args: MailClusterFromSpecArgs, parent: pulumi.Resource): PlatformCredentials {
  const credentials: PlatformCredentials = {};
  if (args.proxmoxApiToken !== undefined) {
    const username = plainString(args.proxmoxSshUsername, 'proxmoxSshUsername', parent);
    credentials.proxmox = {
      apiToken: args.proxmoxApiToken,
      ssh: { ...(username ? { username } : {}), ...(args.proxmoxSshPrivateKey !== undefined ? { privateKey: args.proxmoxSshPrivateKey } : {}) },
    };
  }
  if ((args.vsphereUser === undefined) !== (args.vspherePassword === undefined)) {
    throw new pulumi.ResourceError(`${args.vsphereUser === undefined ? 'vsphereUser' : 'vspherePassword'}: required with ${args.vsphereUser === undefined ? 'vspherePassword' : 'vsphereUser'}`, parent);
  }
  if (args.vsphereUser !== undefined && args.vspherePassword !== undefined) {
    credentials.vsphere = { user: args.vsphereUser, password: args.vspherePassword };
  }
  return credentials;
}
