import { posix } from 'node:path';
import { intToIpv4, ipv4ToInt, parseRuntimeConfig, type RuntimeConfig, type RuntimeConfigInput, type RuntimeRole } from '../mail-runtime/config';
import {
  SpecError,
  VM_ADDRESS_BLOCKS,
  deployedAppliances,
  type ClusterSpec,
  type FailoverPairSpec,
  type Filters,
  type Platform,
  type Role,
  type TopologySpec,
} from './spec';

/**
 * The single place where topology becomes process configuration: every
 * member's RuntimeConfig comes from here, and is validated against the
 * runtime's own schema, so a stack can never deploy a config the runtime
 * would reject.
 */

/** Standard ports members listen on when each has its own host, pod or container. */
export const STANDARD_PORTS = {
  smtp: 25,
  submission: 587,
  smtps: 465,
  imap: 143,
  imaps: 993,
  pop3: 110,
  pop3s: 995,
  lmtp: 24,
  /**
   * The gateways' relay listener (`listen.relay`): cluster members only, AUTH
   * with the cluster token. It is message submission (RFC 6409 §3.1: port
   * 587) from a node relaying its users' outside mail; never published by a
   * load balancer.
   */
  relay: 587,
  http: 443,
  management: 9090,
} as const;

/**
 * Local embedded default (DESIGN.md): the first hub, gateway and proxy keep
 * these well-known ports; everything else is allocated upwards from 2600.
 */
export const LOCAL_PORTS = {
  hubHttp: 2580,
  gatewaySmtp: 2525,
  proxy: { imap: 2143, imaps: 2993, pop3: 2110, submission: 2587, smtps: 2465 },
  firstDynamic: 2600,
} as const;

/** Where secrets and state are mounted inside a container or VM. */
export const GUEST_PATHS = {
  storage: '/var/lib/mailfleet',
  configDir: '/etc/mailfleet',
  tlsCert: '/etc/mailfleet/tls/tls.crt',
  tlsKey: '/etc/mailfleet/tls/tls.key',
  adminToken: '/etc/mailfleet/secrets/admin-token',
  clusterToken: '/etc/mailfleet/secrets/cluster-token',
  dkimKey: '/etc/mailfleet/secrets/dkim.key',
  /** The cluster-internal CA certificate (every member) and the member's own certificate from it (hubs, nodes, gateways: internalTls below). */
  clusterCa: '/etc/mailfleet/cluster-tls/ca.crt',
  clusterCert: '/etc/mailfleet/cluster-tls/tls.crt',
  clusterKey: '/etc/mailfleet/cluster-tls/tls.key',
  /** The cluster CA's key: hubs only (they sign each member's own certificate, mail-runtime/hub/ca). */
  clusterCaKey: '/etc/mailfleet/cluster-tls/ca.key',
} as const;

export interface RenderedMember {
  memberId: string;
  role: RuntimeRole;
  /** Index within its role (the `<i>` of `${name}-<role>-<i>`). */
  index: number;
  site: string;
  /** Address other members and load balancers reach this member on. */
  address: string;
  config: RuntimeConfig;
}

export function memberId(cluster: string, role: RuntimeRole, index: number): string {
  return `${cluster}-${role}-${index}`;
}

export function kubernetesNamespace(spec: { name: string; platform: Platform }): string {
  return spec.platform.kind === 'kubernetes' && spec.platform.namespace ? spec.platform.namespace : `mailfleet-${spec.name}`;
}

/** Stable VM address of a member: role blocks, so scaling one role never moves another. */
export function vmAddress(net: { cidr: string; firstAddress: string }, block: keyof typeof VM_ADDRESS_BLOCKS, index: number): string {
  return intToIpv4(ipv4ToInt(net.firstAddress) + VM_ADDRESS_BLOCKS[block] + index);
}

function addressOf(spec: ClusterSpec, role: Role, index: number): string {
  const p = spec.platform;
  const id = memberId(spec.name, role, index);
  switch (p.kind) {
    case 'local':
      return p.host;
    case 'docker':
      return id; // container name, resolvable on the cluster network
    case 'kubernetes': {
      const ns = kubernetesNamespace(spec);
      // Hubs, nodes and gateways are StatefulSet pods behind a headless Service: stable DNS per member (platforms/kubernetes/workload.ts).
      if (role === 'hub' || role === 'node' || role === 'gateway') return `${id}.${spec.name}-${role}.${ns}.svc.cluster.local`;
      return `${spec.name}-${role}.${ns}.svc.cluster.local`;
    }
    case 'proxmox':
      return vmAddress(p.network, role, index);
    case 'vsphere':
      return vmAddress(p.addresses, role, index);
  }
}

/**
 * Allocates local ports upwards from 2600, skipping the fixed ports, never
 * twice. A fixed port is handed out only where the caller asks for it (the
 * first member of its role).
 */
class PortAllocator {
  private readonly used: Set<number>;
  private next: number = LOCAL_PORTS.firstDynamic;
  constructor(fixed: readonly number[]) {
    this.used = new Set(fixed);
  }
  take(fixed?: number): number {
    if (fixed !== undefined) return fixed;
    while (this.used.has(this.next)) this.next++;
    if (this.next > 65535) throw new Error('local platform ran out of ports');
    this.used.add(this.next);
    return this.next;
  }
}

// ---------------------------------------------------------------------------
// Security appliances beside the gateways (filters.*.deploy)

/** What mailfleet deploys for `filters.antivirus.deploy` / `filters.spam.deploy`, and the port each serves gateways on (the daemons' own defaults). */
export const APPLIANCE_PORTS = { clamd: 3310, rspamd: 11333 } as const;
export type ApplianceKind = keyof typeof APPLIANCE_PORTS;

/** One deployed clamd or rspamd and the gateways that use it. */
export interface RenderedAppliance {
  kind: ApplianceKind;
  /**
   * Name of its workload: `${cluster}-<kind>-<i>` (the Kubernetes
   * Service/Deployment, the Docker container) or, on VM platforms, the VM
   * `${cluster}-appliance-<i>` that runs both daemons.
   */
  id: string;
  /** The site's position in spec.sites (kubernetes, VMs) or the Docker host's in platform.hosts. */
  index: number;
  site: string;
  /** What the gateways connect to: a Service DNS name, a container name or the VM's address. */
  host: string;
  port: number;
  /** Member ids of the gateways whose RuntimeConfig points here. */
  gateways: string[];
}

/**
 * Which appliance serves gateway `index` of `site`:
 * - docker: the one on the gateway's own Docker host (gateway i runs on
 *   hosts[i % n]), so scanning never crosses hosts and a host failure takes
 *   only its own gateways' scanners with it;
 * - kubernetes, proxmox, vsphere: the one of the gateway's site.
 */
function applianceSlot(spec: ClusterSpec, gatewayIndex: number, site: string): number {
  if (spec.platform.kind === 'docker') return gatewayIndex % spec.platform.hosts.length;
  return Math.max(0, spec.sites.findIndex((s) => s.name === site));
}

function placeAppliance(spec: ClusterSpec, kind: ApplianceKind, slot: number): { id: string; host: string } {
  const p = spec.platform;
  switch (p.kind) {
    case 'kubernetes': {
      const id = `${spec.name}-${kind}-${slot}`;
      return { id, host: `${id}.${kubernetesNamespace(spec)}.svc.cluster.local` };
    }
    case 'docker': {
      const id = `${spec.name}-${kind}-${slot}`;
      return { id, host: id }; // container name, resolved by Docker's DNS on the host's network
    }
    case 'proxmox':
      return { id: `${spec.name}-appliance-${slot}`, host: vmAddress(p.network, 'appliance', slot) };
    case 'vsphere':
      return { id: `${spec.name}-appliance-${slot}`, host: vmAddress(p.addresses, 'appliance', slot) };
    case 'local':
      // The spec rejects deploy on local; kept so the switch is total.
      throw new SpecError('cluster spec', [{ path: 'filters', message: 'local runs no appliances (deploy: true needs kubernetes, docker, proxmox or vsphere)' }]);
  }
}

const deployedKinds = (f: Filters): ApplianceKind[] => {
  const d = deployedAppliances(f);
  return (['clamd', 'rspamd'] as const).filter((k) => d[k]);
};

/**
 * The appliances a cluster deploys, one per kind and site with gateways (per
 * Docker host with gateways), in slot order. Empty when no filter says
 * `deploy: true`. Gateways' RuntimeConfigs point at exactly these.
 */
export function renderAppliances(spec: ClusterSpec): RenderedAppliance[] {
  const kinds = deployedKinds(spec.filters);
  if (kinds.length === 0) return [];
  const site = spec.sites[0]!.name; // every member is in the first site (renderCluster)
  const bySlot = new Map<number, string[]>();
  for (let i = 0; i < spec.gateways.count; i++) {
    const slot = applianceSlot(spec, i, site);
    bySlot.set(slot, [...(bySlot.get(slot) ?? []), memberId(spec.name, 'gateway', i)]);
  }
  const slots = [...bySlot.keys()].sort((a, b) => a - b);
  return kinds.flatMap((kind) =>
    slots.map((slot) => ({ kind, ...placeAppliance(spec, kind, slot), index: slot, site, port: APPLIANCE_PORTS[kind], gateways: bySlot.get(slot)! })),
  );
}

/** The scanner address a filter gives the gateways: its own `address`, or the deployed appliance's. */
function filterAddress(f: { deploy: boolean; address?: string }, deployed: () => string, what: string): string {
  if (f.deploy) return deployed();
  if (f.address === undefined) throw new SpecError('cluster spec', [{ path: what, message: 'required unless deploy: true' }]);
  return f.address;
}

/**
 * The filter part of a gateway's config: scanner addresses from the spec or
 * the deployed appliances (`appliance(kind)` is `host:port`), the DKIM key as
 * a file.
 */
function gatewayFilters(f: Filters, dkimKeyFile: string, appliance: (kind: ApplianceKind) => string) {
  let spam;
  if (f.spam) {
    // What the runtime's SpamFilter takes; deploy, offline and image configure the appliance only.
    const { deploy: _deploy, offline: _offline, image: _image, address: _address, ...scanner } = f.spam;
    spam = { ...scanner, address: filterAddress(f.spam, () => appliance('rspamd'), 'filters.spam.address') };
  }
  return {
    clamd: f.antivirus ? { address: filterAddress(f.antivirus, () => appliance('clamd'), 'filters.antivirus.address'), onError: f.antivirus.onError } : undefined,
    spam,
    dkim: f.dkim ? { selector: f.dkim.selector, keyFile: dkimKeyFile } : undefined,
  };
}

// ---------------------------------------------------------------------------
// Cluster wiring: how members find the hubs, trust each other and learn who the client is

/**
 * The hub URLs every member gets. `hubUrl` is the one the admin API is shown
 * at (on Kubernetes the hubs' Service, which resolves to the ready hubs);
 * with more than one hub, `hubUrls` lists each hub by its own address, in
 * index order, so a member reaches the active hub whichever it is: a standby
 * answers `not_active` with the active one's URL (its advertised address),
 * which the member follows (mail-runtime/cluster/hub-link.ts).
 */
function hubWiring(spec: ClusterSpec, ports: readonly number[]): { hubUrl: string; hubUrls?: string[] } {
  const scheme = spec.platform.kind === 'local' ? 'http' : 'https';
  const own = ports.map((port, i) => `${scheme}://${addressOf(spec, 'hub', i)}:${port}`);
  const hubUrl = spec.platform.kind === 'kubernetes' ? `https://${hubServiceHost(spec)}:${ports[0]!}` : own[0]!;
  return ports.length > 1 ? { hubUrl, hubUrls: [...new Set([hubUrl, ...own])] } : { hubUrl };
}

function hubServiceHost(spec: ClusterSpec): string {
  return `${spec.name}-hub.${kubernetesNamespace(spec)}.svc.cluster.local`;
}

/**
 * The names a hub's cluster-internal certificate must carry: every name and
 * address a member may reach a hub by (each hub's own address and, on
 * Kubernetes, the hubs' Service), so member → hub TLS verifies against the
 * cluster CA whatever the public TLS mode.
 */
export function hubInternalNames(spec: ClusterSpec): string[] {
  const names = Array.from({ length: spec.hubs.count }, (_, i) => addressOf(spec, 'hub', i));
  if (spec.platform.kind === 'kubernetes') names.push(hubServiceHost(spec), `${spec.name}-hub.${kubernetesNamespace(spec)}.svc`);
  return [...new Set(names)];
}

/** The roles that hold a certificate from the cluster CA (internalTls): the hubs serve their API with it, nodes their proxy-facing TLS, gateways their relay listener. */
export const INTERNAL_LEAF_ROLES = ['hub', 'node', 'gateway'] as const;
export type InternalLeafRole = (typeof INTERNAL_LEAF_ROLES)[number];

/**
 * The names a role's cluster-internal certificate carries (components/secrets.ts
 * issues one per role): the hubs' as hubInternalNames; a node's and a
 * gateway's are every member id of the role (what the proxy verifies a node
 * by, and asks for by SNI: SNI cannot carry the IP addresses of the VM
 * platforms, RFC 6066 §3) and every address members reach them at (the
 * relay hop checks the gateway by the host it dials, node `gatewayRelay`).
 */
export function internalLeafNames(spec: ClusterSpec, role: InternalLeafRole): string[] {
  if (role === 'hub') return hubInternalNames(spec);
  const count = role === 'node' ? spec.nodes.count : spec.gateways.count;
  return [...new Set(Array.from({ length: count }, (_, i) => [memberId(spec.name, role, i), addressOf(spec, role, i)]).flat())];
}

/**
 * The cluster-internal CA (components/secrets.ts creates it with the tls
 * provider): every member trusts it (the hub's HTTPS API, the proxy's
 * backend hop to the nodes, the nodes' relay hop to the gateways); hubs,
 * nodes and gateways present a certificate from it naming
 * internalLeafNames(role), at the same guest path. Proxies only dial out: the
 * CA is enough. The hubs also get the CA key (`clusterCaKeyFile`): members
 * ask them for short-lived certificates naming only themselves, the role
 * certificates being the bootstrap and the fallback. The local cluster
 * talks plaintext on loopback and has none.
 */
function internalTls(spec: ClusterSpec, role: Role): { clusterTls?: { caFile: string; certFile?: string; keyFile?: string }; clusterCaKeyFile?: string } {
  if (spec.platform.kind === 'local') return {};
  const ownCertificate = (INTERNAL_LEAF_ROLES as readonly string[]).includes(role);
  return {
    clusterTls: { caFile: GUEST_PATHS.clusterCa, ...(ownCertificate ? { certFile: GUEST_PATHS.clusterCert, keyFile: GUEST_PATHS.clusterKey } : {}) },
    // The hubs sign each member's own key with the CA (POST /v1/cluster/certificate); the role certificates stay the bootstrap and the fallback.
    ...(role === 'hub' ? { clusterCaKeyFile: GUEST_PATHS.clusterCaKey } : {}),
  };
}

/** Every IPv4 and IPv6 address. */
const ANY_SOURCE = ['0.0.0.0/0', '::/0'] as const;

/**
 * Who may start a connection with a PROXY protocol v2 header naming the
 * client (HAProxy proxy-protocol.txt §2.2), so per-address limits, login
 * throttling, SPF and logs see the client rather than the hop in front:
 *
 * - `nodesTrust`: the proxies, for the nodes' client listeners (the proxies
 *   then send the header: `proxy.sendProxyProtocol`). Local: none (the
 *   launcher trusts loopback when it starts the proxy with the nodes).
 *   Kubernetes: any source, because the nodes' NetworkPolicy admits only
 *   proxy pods to those ports and pod addresses are not known in advance.
 *   Docker: the nodes publish no ports, so only containers on the cluster's
 *   own network reach them. VMs: each proxy's fixed address.
 * - `gatewaysTrust`: the load balancer in front of the MX, which sends the
 *   header on the SMTP backend (so the gateway's SPF checks and relay rules
 *   see the sender's address). Kubernetes keeps the client address without
 *   it (`externalTrafficPolicy: Local`): nobody. Docker with HAProxy: any
 *   source, as for the nodes: the gateways publish no ports, so only
 *   containers on the cluster's own network reach their MX listener, and
 *   HAProxy's address cannot be named in advance (on one host Docker picks
 *   it, the network having no fixed subnet). Every connection to a
 *   gateway's MX port must then come through HAProxy; the relay listener,
 *   which members dial directly, never takes PROXY headers
 *   (gateway/start.ts). VMs: the HAProxy VMs' fixed addresses. An external
 *   load balancer: nobody (the operator knows whether theirs sends the
 *   header; a gateway that trusts nobody takes every connection as it
 *   comes).
 */
function proxyProtocolWiring(spec: ClusterSpec): { nodesTrust: string[]; gatewaysTrust: string[] } {
  const p = spec.platform;
  const haproxy = spec.loadBalancer?.kind === 'haproxy' ? spec.loadBalancer : undefined;
  switch (p.kind) {
    case 'local':
      // Off in the render: a node rendered to run by hand (README) serves its clients directly, and a
      // trusted source must send the header. `mailfleet up --local`, which starts the proxy too, turns
      // it on for loopback (cli/local/launcher.ts).
      return { nodesTrust: [], gatewaysTrust: [] };
    case 'kubernetes':
      return { nodesTrust: [...ANY_SOURCE], gatewaysTrust: [] };
    case 'docker':
      return { nodesTrust: [...ANY_SOURCE], gatewaysTrust: haproxy ? [...ANY_SOURCE] : [] };
    case 'proxmox':
    case 'vsphere': {
      const net = p.kind === 'proxmox' ? p.network : p.addresses;
      const at = (block: keyof typeof VM_ADDRESS_BLOCKS, n: number) => Array.from({ length: n }, (_, i) => `${vmAddress(net, block, i)}/32`);
      return { nodesTrust: at('proxy', spec.proxies.count), gatewaysTrust: haproxy ? at('loadBalancer', haproxy.replicas) : [] };
    }
  }
}

/** The services whose HAProxy backend starts each connection with a PROXY v2 header: the MX when the gateways trust the load balancer (proxyProtocolWiring). */
export function mxProxyProtocol(spec: ClusterSpec): 'smtp'[] {
  return proxyProtocolWiring(spec).gatewaysTrust.length > 0 ? ['smtp'] : [];
}

/** Renders the RuntimeConfig of every member of a cluster or failover pair. */
export function renderRuntimeConfigs(spec: TopologySpec): RenderedMember[] {
  return spec.kind === 'failover-pair' ? renderFailoverPair(spec) : renderCluster(spec);
}

function renderCluster(spec: ClusterSpec): RenderedMember[] {
  const local = spec.platform.kind === 'local' ? spec.platform : undefined;
  const fixed = [LOCAL_PORTS.hubHttp, LOCAL_PORTS.gatewaySmtp, ...Object.values(LOCAL_PORTS.proxy)];
  const ports = new PortAllocator(local ? fixed : []);
  const listen = (host: string, standard: number, localPort?: number) =>
    local ? { host, port: ports.take(localPort) } : { host: '0.0.0.0', port: standard };

  const dir = local ? local.dir : undefined;
  // Local storage is a folder, relative to the cluster dir unless absolute.
  const localStorage = spec.storage.kind === 'local-dir' ? spec.storage.path : 'storage';
  const storagePath = dir ? (posix.isAbsolute(localStorage) ? localStorage : posix.join(dir, localStorage)) : GUEST_PATHS.storage;
  const secretsDir = local ? posix.join(dir!, 'secrets') : undefined;
  const tls = local
    ? { certFile: posix.join(dir!, 'tls', 'cert.pem'), keyFile: posix.join(dir!, 'tls', 'key.pem'), generateIfMissing: true }
    : { certFile: GUEST_PATHS.tlsCert, keyFile: GUEST_PATHS.tlsKey };
  const clusterTokenFile = secretsDir ? posix.join(secretsDir, 'cluster-token') : GUEST_PATHS.clusterToken;
  const site = spec.sites[0]!.name;
  const hubPorts = Array.from({ length: spec.hubs.count }, (_, i) => (local ? ports.take(i === 0 ? LOCAL_PORTS.hubHttp : undefined) : STANDARD_PORTS.http));
  const hubs = hubWiring(spec, hubPorts);
  const wiring = proxyProtocolWiring(spec);

  const common = (role: Role, index: number) => {
    const host = local ? local.host : '0.0.0.0';
    return {
      role,
      memberId: memberId(spec.name, role, index),
      cluster: spec.name,
      site,
      advertise: addressOf(spec, role, index),
      management: listen(host, STANDARD_PORTS.management),
      storage: { path: storagePath },
      hubUrl: hubs.hubUrl,
      ...(hubs.hubUrls ? { hubUrls: hubs.hubUrls } : {}),
      clusterTokenFile,
      ...internalTls(spec, role),
      tls,
      hostname: spec.hostname,
      plaintextAuth: spec.security.plaintextAuth,
      limits: { ...spec.limits, maxMessageBytes: spec.gateway.maxMessageBytes },
    };
  };
  const host = local ? local.host : '0.0.0.0';
  const members: RenderedMember[] = [];
  const push = (role: Role, index: number, input: RuntimeConfigInput) => {
    const config = parseRuntimeConfig(input, `rendered config of ${memberId(spec.name, role, index)}`);
    members.push({ memberId: config.memberId, role, index, site, address: config.advertise, config });
  };

  for (let i = 0; i < spec.hubs.count; i++) {
    push('hub', i, {
      ...common('hub', i),
      role: 'hub',
      listen: { http: { host, port: hubPorts[i]! } },
      adminTokenFile: secretsDir ? posix.join(secretsDir, 'admin-token') : GUEST_PATHS.adminToken,
    });
  }
  const relay = renderRelay(spec, () => listen(host, STANDARD_PORTS.relay), local?.host);
  for (let i = 0; i < spec.nodes.count; i++) {
    const nodeListen = {
      imap: listen(host, STANDARD_PORTS.imap),
      imaps: listen(host, STANDARD_PORTS.imaps),
      pop3: listen(host, STANDARD_PORTS.pop3),
      pop3s: listen(host, STANDARD_PORTS.pop3s),
      // Cluster-internal (gateways deliver here; no authentication): network policy keeps it off the public side.
      lmtp: listen(host, STANDARD_PORTS.lmtp),
      // Submission 587 (STARTTLS) and 465 (implicit TLS): the proxies front them for clients (issue 12).
      submission: listen(host, STANDARD_PORTS.submission),
      smtps: listen(host, STANDARD_PORTS.smtps),
    };
    push('node', i, { ...common('node', i), role: 'node', listen: nodeListen, proxyProtocolFrom: wiring.nodesTrust, ...relay.node(i) });
  }
  for (let i = 0; i < spec.gateways.count; i++) {
    push('gateway', i, {
      ...common('gateway', i),
      role: 'gateway',
      listen: { smtp: listen(host, STANDARD_PORTS.smtp, i === 0 && local ? LOCAL_PORTS.gatewaySmtp : undefined), ...relay.gateway(i) },
      relayNetworks: spec.gateway.relayNetworks,
      hostedDomains: spec.domains.map((d) => d.name),
      smarthost: spec.gateway.smarthost,
      filters: gatewayFilters(spec.filters, secretsDir ? posix.join(secretsDir, 'dkim.key') : GUEST_PATHS.dkimKey, (kind) => {
        const { host } = placeAppliance(spec, kind, applianceSlot(spec, i, site));
        return `${host}:${APPLIANCE_PORTS[kind]}`;
      }),
      // No static placement: every cluster member has the hub, whose placement map routes each mailbox to its owner node.
      proxyProtocolFrom: wiring.gatewaysTrust,
    });
  }
  for (let i = 0; i < spec.proxies.count; i++) {
    const first = i === 0 && local;
    push('proxy', i, {
      ...common('proxy', i),
      role: 'proxy',
      listen: {
        imap: listen(host, STANDARD_PORTS.imap, first ? LOCAL_PORTS.proxy.imap : undefined),
        imaps: listen(host, STANDARD_PORTS.imaps, first ? LOCAL_PORTS.proxy.imaps : undefined),
        pop3: listen(host, STANDARD_PORTS.pop3, first ? LOCAL_PORTS.proxy.pop3 : undefined),
        pop3s: listen(host, STANDARD_PORTS.pop3s),
        submission: listen(host, STANDARD_PORTS.submission, first ? LOCAL_PORTS.proxy.submission : undefined),
        smtps: listen(host, STANDARD_PORTS.smtps, first ? LOCAL_PORTS.proxy.smtps : undefined),
      },
      proxy: { sendProxyProtocol: wiring.nodesTrust.length > 0 },
    });
  }
  return members;
}

/**
 * The relay hop (node submission → gateway → outside): every gateway gets a
 * relay listener (`listen.relay`, cluster members only, AUTH PLAIN with the
 * cluster token every member has in `clusterTokenFile`), and node `i`
 * relays through gateway `i mod gateways` (`gatewayRelay`) so the nodes
 * spread over the gateways (on Kubernetes the gateway pod's DNS name under
 * its StatefulSet's headless Service). Without
 * gateways a node has no relay and refuses outside recipients (451 4.3.5).
 */
function renderRelay(spec: ClusterSpec, listenFor: (gateway: number) => { host: string; port: number }, localHost: string | undefined) {
  const listens = Array.from({ length: spec.gateways.count }, (_, i) => listenFor(i));
  return {
    gateway: (i: number) => ({ relay: listens[i]! }),
    node: (i: number): { gatewayRelay?: string } => {
      if (listens.length === 0) return {};
      const g = i % listens.length;
      const host = localHost ?? addressOf(spec, 'gateway', g);
      return { gatewayRelay: `${host.includes(':') ? `[${host}]` : host}:${listens[g]!.port}` };
    },
  };
}

function siteAddress(spec: FailoverPairSpec, side: 'primary' | 'standby'): string {
  const p = spec[side].platform;
  const id = memberId(spec.name, 'all', side === 'primary' ? 0 : 1);
  switch (p.kind) {
    case 'local':
      return p.host;
    case 'docker':
      return id;
    case 'kubernetes':
      return `${id}.${p.namespace ?? `mailfleet-${spec.name}`}.svc.cluster.local`;
    case 'proxmox':
      return vmAddress(p.network, 'hub', 0);
    case 'vsphere':
      return vmAddress(p.addresses, 'hub', 0);
  }
}

function renderFailoverPair(spec: FailoverPairSpec): RenderedMember[] {
  const primaryAddress = siteAddress(spec, 'primary');
  return (['primary', 'standby'] as const).map((side, index) => {
    const site = spec[side];
    const local = site.platform.kind === 'local' ? site.platform : undefined;
    const ports = new PortAllocator([]);
    // Two local sites on one machine must not collide: the standby's ports are offset.
    const l = (standard: number) => (local ? { host: local.host, port: ports.take() + index * 100 } : { host: '0.0.0.0', port: standard });
    const dir = local ? posix.join(local.dir, site.site.name) : undefined;
    const id = memberId(spec.name, 'all', index);
    const input: RuntimeConfigInput = {
      role: 'all',
      memberId: id,
      cluster: spec.name,
      site: site.site.name,
      advertise: siteAddress(spec, side),
      management: l(STANDARD_PORTS.management),
      storage: { path: dir ? posix.join(dir, 'storage') : GUEST_PATHS.storage },
      clusterTokenFile: dir ? posix.join(dir, 'secrets', 'cluster-token') : GUEST_PATHS.clusterToken,
      tls: dir
        ? { certFile: posix.join(dir, 'tls', 'cert.pem'), keyFile: posix.join(dir, 'tls', 'key.pem'), generateIfMissing: true }
        : { certFile: GUEST_PATHS.tlsCert, keyFile: GUEST_PATHS.tlsKey },
      hostname: spec.hostname,
      plaintextAuth: spec.security.plaintextAuth,
      limits: { ...spec.limits, maxMessageBytes: spec.gateway.maxMessageBytes },
      listen: {
        http: l(STANDARD_PORTS.http),
        smtp: l(STANDARD_PORTS.smtp),
        imap: l(STANDARD_PORTS.imap),
        imaps: l(STANDARD_PORTS.imaps),
        pop3: l(STANDARD_PORTS.pop3),
        pop3s: l(STANDARD_PORTS.pop3s),
        submission: l(STANDARD_PORTS.submission),
        smtps: l(STANDARD_PORTS.smtps),
        lmtp: l(STANDARD_PORTS.lmtp),
      },
      relayNetworks: spec.gateway.relayNetworks,
      hostedDomains: spec.domains.map((d) => d.name),
      smarthost: spec.gateway.smarthost,
      filters: gatewayFilters(spec.filters, dir ? posix.join(dir, 'secrets', 'dkim.key') : GUEST_PATHS.dkimKey, () => {
        // The spec rejects deploy on a failover pair; kept so rendering is total.
        throw new SpecError('failover pair spec', [{ path: 'filters', message: 'a failover pair deploys no appliances' }]);
      }),
      adminTokenFile: dir ? posix.join(dir, 'secrets', 'admin-token') : GUEST_PATHS.adminToken,
      failover:
        side === 'standby'
          ? {
              standby: true,
              peerUrl: `https://${primaryAddress}:${STANDARD_PORTS.http}`,
              mode: spec.failover.mode,
              probeIntervalSeconds: spec.failover.probeIntervalSeconds,
              failureThreshold: spec.failover.failureThreshold,
            }
          : undefined,
    };
    // Its gateway part delivers to its own node part's LMTP listener.
    const lmtp = (input.listen as { lmtp: { port: number } }).lmtp;
    input.placement = { default: { memberId: id, host: local ? local.host : '127.0.0.1', port: lmtp.port } };
    const config = parseRuntimeConfig(input, `rendered config of ${id}`);
    return { memberId: id, role: 'all' as const, index, site: site.site.name, address: config.advertise, config };
  });
}
