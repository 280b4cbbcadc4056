import type * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { ADAPTERS, type PlatformCredentials } from './platforms';
import { CLIENT_PORTS, type ClientPort, type ClusterContext, type PlatformAdapter, type PlatformSession, type ProviderSources } from './platforms/types';
import { STANDARD_PORTS, internalLeafNames, renderAppliances, renderRuntimeConfigs, type ApplianceKind, type RenderedMember } from './render';
import { Gateway, Hub, LoadBalancer, MailNode, Proxy, SharedStorage } from './roles';
import type { RoleComponent } from './roles/role';
import { createClusterSecrets, type SecretInputs } from './secrets';
import { SpecError, parseClusterSpec, type ClusterSpec, type ClusterSpecInput, type PlatformKind, type Role } from './spec';

export interface MailClusterArgs {
  /**
   * The topology. Either an already validated ClusterSpec or the raw input a
   * user wrote (validated here; a bad field throws a ResourceError naming it
   * before anything is created).
   */
  spec: ClusterSpec | ClusterSpecInput;
  /** Secret material from stack config (TLS key for `provided`, DKIM key, admin token). Generated when absent. */
  secrets?: SecretInputs;
  /**
   * The component's previous name after a rename: the component gets an
   * alias from its old name, and the engine derives every child's alias from
   * it (a child named `${name}-…` under a renamed parent is looked up as
   * `${renamedFrom}-…`, level by level), so `pulumi up` moves the cluster
   * instead of replacing it.
   */
  renamedFrom?: string;
  /**
   * Credentials for the platform provider the component builds when it is
   * given none (Proxmox API token, vCenter user and password). Never read
   * from stack config here: a stack program passes them, e.g. from
   * `credentialsFromStackConfig(spec.platform.kind)`. A provider in
   * `opts.providers` (or inherited from a parent) wins over these.
   */
  credentials?: PlatformCredentials;
  /**
   * Docker: your own provider for each Docker host, keyed by the host URL as
   * written in spec.platform.hosts. A single-host cluster may pass its
   * provider in `opts.providers` instead. A host without one gets a provider
   * built from its URL.
   */
  dockerHosts?: Readonly<Record<string, docker.Provider>>;
}

export interface ClusterMember {
  memberId: string;
  role: Role;
  site: string;
  address: string;
}

/** A security appliance the cluster runs beside its gateways (filters.*.deploy). */
export interface ClusterAppliance {
  /** Its workload or VM name (`<cluster>-clamd-0`, `<cluster>-appliance-0`). */
  id: string;
  kind: ApplianceKind;
  site: string;
  /** `host:port` the gateways use. */
  address: string;
  /** Member ids of the gateways that use it. */
  gateways: string[];
}

/**
 * A highly available mail cluster: hubs, mail nodes, gateways and proxies on
 * shared storage behind a load balancer, on the platform the spec names.
 *
 * Children are named `${name}-<role>` (role components) and
 * `${name}-<role>-<i>` (members); every child is parented here.
 */
export class MailCluster extends pulumi.ComponentResource {
  static readonly type = 'mailfleet:index:MailCluster';

  /** `host:port` for each client service, as clients reach it through the load balancer. */
  readonly endpoints: pulumi.Output<Record<ClientPort, string>>;
  /** The hub's admin API, reachable inside the cluster network (never public unless spec.admin.public). */
  readonly adminUrl: pulumi.Output<string>;
  /** Bearer token for the admin API. A Pulumi secret. */
  readonly adminToken: pulumi.Output<string>;
  readonly members: pulumi.Output<ClusterMember[]>;
  /** The clamd/rspamd appliances beside the gateways; empty when the spec deploys none. */
  readonly appliances: pulumi.Output<ClusterAppliance[]>;
  readonly storage: pulumi.Output<string>;
  readonly spec: ClusterSpec;

  constructor(name: string, args: MailClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super(MailCluster.type, name, {}, args.renamedFrom && args.renamedFrom !== name ? pulumi.mergeOptions(opts, { aliases: [{ name: args.renamedFrom }] }) : opts);
    let spec: ClusterSpec;
    try {
      spec = parseClusterSpec(args.spec);
    } catch (err) {
      throw new pulumi.ResourceError(err instanceof SpecError ? err.message : String(err), this);
    }
    if (spec.platform.kind === 'local') {
      throw new pulumi.ResourceError('platform.kind "local" is run by `mailfleet up --local`, not by Pulumi; choose kubernetes, docker, proxmox or vsphere', this);
    }
    this.spec = spec;
    const members = renderRuntimeConfigs(spec);
    const appliances = renderAppliances(spec);
    // Names members reach the hub by, for the self-signed certificate.
    const internalNames = members.flatMap((m) => (m.role === 'hub' ? [m.address, new URL(m.config.hubUrl ?? `https://${m.address}`).hostname] : []));
    const secrets = createClusterSecrets(name, spec, args.secrets ?? {}, this, internalNames, { hub: internalLeafNames(spec, 'hub'), node: internalLeafNames(spec, 'node'), gateway: internalLeafNames(spec, 'gateway') });
    const ctx: ClusterContext = { name, spec, members, appliances, secrets };
    const adapter = ADAPTERS[spec.platform.kind] as PlatformAdapter<Exclude<PlatformKind, 'local'>, unknown>;
    const providers: ProviderSources<unknown> = {
      // getProvider wants a `pkg:module:member` token; only the package part counts.
      explicit: (pkg) => this.getProvider(`${pkg}:index:provider`),
      perHost: args.dockerHosts ?? {},
      credentials: (args.credentials as Record<string, unknown> | undefined)?.[spec.platform.kind],
    };
    const session: PlatformSession = adapter.open(ctx as ClusterContext<Exclude<PlatformKind, 'local'>>, this, providers);

    const child = { parent: this };
    const secretStore = session.secrets(this);
    const storage = new SharedStorage(`${name}-storage`, { session }, child);
    const of = (role: Role) => members.filter((m) => m.role === role);
    const roleArgs = (role: Role, size: ClusterSpec['hubs']) => ({
      session,
      members: of(role),
      volume: storage.volume,
      secretStore,
      size,
    });
    const gateway = new Gateway(`${name}-gateway`, { ...roleArgs('gateway', spec.gateways), appliances }, child);
    const roles: RoleComponent[] = [
      new Hub(`${name}-hub`, roleArgs('hub', spec.hubs), child),
      new MailNode(`${name}-node`, roleArgs('node', spec.nodes), child),
      gateway,
      new Proxy(`${name}-proxy`, roleArgs('proxy', spec.proxies), child),
    ];
    const lb = new LoadBalancer(
      `${name}-lb`,
      { session, proxies: of('proxy'), gateways: of('gateway'), hubs: of('hub'), dependsOn: roles.flatMap((r) => r.workload.resources) },
      child,
    );

    const addressOf = (p: ClientPort) => lb.out.addresses?.[p] ?? lb.address;
    this.endpoints = pulumi
      .all(CLIENT_PORTS.map((p) => addressOf(p)))
      .apply((addresses) => Object.fromEntries(CLIENT_PORTS.map((p, i) => [p, `${addresses[i]}:${lb.out.ports[p]}`])) as Record<ClientPort, string>);
    const hub = of('hub')[0]!;
    this.adminUrl = pulumi.output(hub.config.hubUrl ?? `https://${hub.address}:${STANDARD_PORTS.http}`);
    this.adminToken = secrets.adminToken;
    this.storage = storage.description;
    this.members = pulumi
      .all(roles.map((r) => r.addresses))
      .apply((lists) => {
        const addressOf = new Map<string, string>();
        roles.forEach((r, i) => r.memberIds.forEach((id, j) => addressOf.set(id, lists[i]![j]!)));
        return members.map((m: RenderedMember) => ({ memberId: m.memberId, role: m.role as Role, site: m.site, address: addressOf.get(m.memberId) ?? m.address }));
      });
    this.appliances = pulumi
      .all(gateway.companions?.addresses ?? [])
      .apply((addresses) => appliances.map((a, i) => ({ id: a.id, kind: a.kind, site: a.site, address: addresses[i] ?? `${a.host}:${a.port}`, gateways: a.gateways })));
    this.registerOutputs({
      // The validated spec, so stack policies (policies/) can read the topology
      // the operator asked for. It holds no secrets: those come from config.
      spec,
      endpoints: this.endpoints,
      adminUrl: this.adminUrl,
      adminToken: this.adminToken,
      members: this.members,
      appliances: this.appliances,
      storage: this.storage,
    });
  }
}
