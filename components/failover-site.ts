import * as pulumi from '@pulumi/pulumi';
import { GUEST_PATHS, renderRuntimeConfigs } from './render';
import { createClusterSecrets, type SecretInputs } from './secrets';
import { SpecError, parseFailoverPairSpec, type FailoverPairSpec, type FailoverPairSpecInput, type PlatformKind, type Storage } from './spec';
import { dockerSite, kubernetesSite, parsePrimaryFacts, proxmoxSite, renderControllerConfig, vsphereSite, type PrimaryFacts, type SiteBuild, type SiteContext, type SiteSettings } from './failover';

export const FAILOVER_SIDES = ['primary', 'standby'] as const;
export type FailoverSide = (typeof FAILOVER_SIDES)[number];

export interface FailoverSiteArgs {
  /** The whole pair (both sites), validated here; both stacks read the same spec (one Pulumi ESC environment). */
  spec: FailoverPairSpec | FailoverPairSpecInput;
  /** Which site this stack builds. */
  site: FailoverSide;
  /**
   * Standby only (required there): what the primary stack exported, read
   * with a StackReference — its `failover` output (facts) and its
   * `failoverCredential` output (a secret). Validated before use.
   */
  primary?: { facts: pulumi.Input<unknown>; credential: pulumi.Input<string> };
  /** Secret material from stack config (admin token, TLS key, DKIM key), shared by both sites; generated when absent. */
  secrets?: SecretInputs;
  /** This site's platform settings beyond the spec (API endpoint the other site uses, provider credentials). */
  platform?: SiteSettings;
}

/** This site's facts, as the other site's stack reads them (the primary's are the standby's input). */
export type SiteFacts = PrimaryFacts;

const BUILDERS: Record<Exclude<PlatformKind, 'local'>, (c: SiteContext) => SiteBuild> = {
  kubernetes: kubernetesSite,
  docker: dockerSite,
  proxmox: proxmoxSite,
  vsphere: vsphereSite,
};

/** How a site's storage is described in facts and outputs: the export both sites must agree on. */
export function storageDescription(s: Storage): string {
  switch (s.kind) {
    case 'nfs':
      return `nfs ${s.server}:${s.path}`;
    case 'pvc-rwx':
      return `pvc-rwx ${s.storageClass}`;
    case 'docker-volume':
      return s.nfs ? `nfs ${s.nfs.server}:${s.nfs.path}` : 'docker-volume (local to the host)';
    case 'local-dir':
      return `local-dir ${s.path}`;
  }
}

/** Where each site's platform is managed from, in the words of the failover-pairs policy (policies/rules/failover-pairs.ts platformEndpoint), which compares the two sites. */
function platformEndpoints(spec: FailoverPairSpec, side: FailoverSide): string[] {
  const p = spec[side].platform;
  switch (p.kind) {
    case 'kubernetes':
      return [`kubernetes context ${p.context ?? '(the ambient kubeconfig context)'}`];
    case 'docker':
      return p.hosts.map((h) => `docker ${h.toLowerCase()}`);
    case 'proxmox': {
      const u = new URL(p.endpoint);
      return [`proxmox ${u.hostname.toLowerCase()}:${u.port || '443'}`];
    }
    case 'vsphere':
      return [`vsphere ${p.server.toLowerCase()}`];
    case 'local':
      return [`local ${p.host}`];
  }
}

/**
 * One site of a geo-redundant failover pair: one stack per site, so an
 * operator can always run `pulumi up` on the surviving site.
 *
 * - `site: primary` builds the active all-roles member (`${name}-all-0`)
 *   and its least-privilege power grant, and exposes `facts` and
 *   `credential` for the stack to export (`failover`, `failoverCredential`).
 * - `site: standby` reads those (args.primary, from a StackReference),
 *   builds the standby member (`${name}-all-1`) created but stopped, its own
 *   power grant, and the failover controller (`${name}-controller`) with the
 *   two least-privilege credentials. It copies the primary facts it relies
 *   on into its outputs (`primary`), because stack policies cannot see
 *   StackReference reads.
 *
 * Registers the validated pair spec and `site` as outputs for the policy pack.
 */
export class FailoverSite extends pulumi.ComponentResource {
  static readonly type = 'mailfleet:index:FailoverSite';

  readonly spec: FailoverPairSpec;
  readonly site: FailoverSide;
  readonly memberId: string;
  /** `running` (primary) or `stopped` (standby, until the controller promotes it). */
  readonly state: 'running' | 'stopped';
  /** This site's facts (no secrets): what the other site's stack reads. */
  readonly facts: pulumi.Output<SiteFacts>;
  /** The least-privilege power credential of this site's member; a Pulumi secret. */
  readonly credential: pulumi.Output<string>;
  /** Standby: the primary facts this site relies on, validated and copied; undefined on the primary. */
  readonly primary: pulumi.Output<SiteFacts> | undefined;
  /** Address clients and the other site reach this member at. */
  readonly address: pulumi.Output<string>;
  readonly adminToken: pulumi.Output<string>;

  constructor(name: string, args: FailoverSiteArgs, opts?: pulumi.ComponentResourceOptions) {
    super(FailoverSite.type, name, {}, opts);
    let spec: FailoverPairSpec;
    try {
      spec = parseFailoverPairSpec(args.spec);
    } catch (err) {
      throw new pulumi.ResourceError(err instanceof SpecError ? err.message : String(err), this);
    }
    if (!(FAILOVER_SIDES as readonly string[]).includes(args.site)) {
      throw new pulumi.ResourceError(`site must be primary or standby (got ${JSON.stringify(args.site)})`, this);
    }
    const side = args.site;
    const kind = spec[side].platform.kind;
    if (kind === 'local') {
      throw new pulumi.ResourceError(`${side}.platform.kind "local" is run by \`mailfleet up --local\`, not by Pulumi; choose kubernetes, docker, proxmox or vsphere`, this);
    }
    if (side === 'standby' && !args.primary) {
      throw new pulumi.ResourceError('the standby site needs the primary stack\'s outputs: pass primary.facts and primary.credential (read with a StackReference of the primary stack: outputs "failover" and "failoverCredential")', this);
    }
    if (spec.failover.standbyState === 'running') {
      throw new pulumi.ResourceError('failover.standbyState "running" is not built: two running all-roles members on one storage are a split brain; keep it stopped (the controller starts the standby)', this);
    }
    this.spec = spec;
    this.site = side;
    const member = renderRuntimeConfigs(spec)[side === 'primary' ? 0 : 1]!;
    this.memberId = member.memberId;
    this.state = side === 'primary' ? 'running' : 'stopped';
    const secrets = createClusterSecrets(name, spec, args.secrets ?? {}, this, [member.address]);
    const build = BUILDERS[kind]({ name, spec, side, member, secrets, running: side === 'primary', settings: args.platform ?? {}, parent: this });

    this.address = build.address;
    this.credential = pulumi.secret(build.credential);
    this.adminToken = secrets.adminToken;
    const storage = storageDescription(spec[side].storage);
    this.facts = pulumi.all([build.address, build.power]).apply(
      ([address, power]): SiteFacts => ({
        pair: spec.name,
        site: spec[side].site.name,
        memberId: member.memberId,
        address,
        platformEndpoints: platformEndpoints(spec, side),
        storage,
        leaseDir: `${GUEST_PATHS.storage}/failover`,
        power,
        traffic: { hostname: spec.hostname, address },
      }),
    );

    let controllerResources: pulumi.Resource[] = [];
    if (side === 'standby' && args.primary) {
      const from = 'the primary stack';
      const primary = (pulumi.output(args.primary.facts) as pulumi.Output<unknown>).apply((f) => parsePrimaryFacts(f, from));
      this.primary = primary;
      const config = pulumi.all([primary, build.power]).apply(([facts, own]) => renderControllerConfig(spec, member, facts, own, build.standbyCredentialFile));
      controllerResources = build.controller(config, pulumi.secret(pulumi.output(args.primary.credential)));
    }

    this.registerOutputs({
      // The validated pair spec and this site's role in it, for the policy pack (no secrets).
      spec,
      site: side,
      memberId: member.memberId,
      state: this.state,
      facts: this.facts,
      ...(this.primary ? { primary: this.primary } : {}),
      controller: controllerResources.length > 0,
      address: this.address,
      credential: this.credential,
    });
  }
}
