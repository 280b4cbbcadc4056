import { join } from 'node:path';
import { Counter, Gauge } from 'prom-client';
import { ClusterMember, HubClient, HubDirectory, hubLoginHistory, hubUrlsOf, ipMatcher, MemberCertificate, Ownership, readClusterSecrets, SettingsAppliers } from '../cluster';
import type { Logger } from '../common/log';
import type { RuntimeConfigOf } from '../config';
import { CertificateAnswer, PlacementRules, type PlacementSnapshot } from '../hub/protocol';
import { NoPlacementError, type Router } from '../smtp/routing';
import { StoreError } from '../store';
import { nodeOptionsFromConfig } from './from-config';
import type { EpochSource } from './mailboxes';
import { startNode, type RunningNode } from './start';

type NodeConfig = RuntimeConfigOf<'node'>;

/** Software version a node reports when it registers. */
const NODE_VERSION = '0.1.0';

export interface ClusterNode extends RunningNode {
  member: ClusterMember;
  ownership: Ownership;
}

/**
 * Where submission sends a recipient in a cluster: a hosted user to the
 * LMTP port of the node the placement names (this node: delivered in
 * place), anything else outside (the gateway relay). A mailbox with no live
 * owner now is NoPlacementError: 451, the client retries.
 */
function placementRouter(self: string, directory: HubDirectory, placement: () => PlacementSnapshot | undefined, node: () => RunningNode | undefined): Router {
  let rules: PlacementRules | undefined;
  return {
    async route(address) {
      const user = await directory.lookup(address);
      if (!user) return { kind: 'remote', address, domain: address.slice(address.lastIndexOf('@') + 1).toLowerCase() };
      const snap = placement();
      if (snap && rules?.snapshot !== snap) rules = new PlacementRules(snap);
      const owner = snap ? rules!.ownerOf(user.address) : null;
      const n = owner ? rules!.node(owner) : undefined;
      const port = owner === self ? node()?.lmtpPort : n?.ports.lmtp;
      if (!owner || !n || port === undefined) throw new NoPlacementError(user.address);
      return { kind: 'local', address: user.address, node: { memberId: owner, host: n.advertise, port } };
    },
  };
}

/** A node is a cluster member when its config names a hub. */
export function isClusterNode(cfg: NodeConfig): boolean {
  return hubUrlsOf(cfg).length > 0;
}

/**
 * A node in a cluster: the users come from the hub (cached, checked here),
 * the mailboxes it may open from the placement (owner and epoch computed
 * locally), the lease from its heartbeats. It fences itself: a mailbox that
 * moves away is released (queued writes refused, writes in flight
 * finished, sessions closed with BYE), and when the lease lapses every
 * mailbox is dropped until it holds a lease again. Cluster settings
 * `limits` and `blocklist` are applied live.
 */
export async function startClusterNode(cfg: NodeConfig, log: Logger): Promise<ClusterNode> {
  const secrets = readClusterSecrets(cfg);
  const client = new HubClient({ urls: hubUrlsOf(cfg), token: secrets.token, ...(secrets.caPem ? { caPem: secrets.caPem } : {}), log });
  // The member is created once the node's ports are known; until then nothing is owned.
  const made: { member?: ClusterMember; node?: RunningNode } = {};
  const ownership = new Ownership({
    memberId: cfg.memberId,
    incarnation: () => made.member?.incarnation,
    holdsLease: () => made.member?.holdsLease() ?? false,
  });
  let blocked = ipMatcher([]);
  if (cfg.directory) log.warn({ file: cfg.directory.file }, 'directory.file is ignored: this node takes its users from the hub');
  const directory = new HubDirectory({
    client,
    log,
    cacheFile: join(cfg.storage.path, 'members', cfg.memberId, 'directory-cache.json'),
    timeoutMs: () => made.member?.timing?.heartbeatMs ?? 2000,
    notServed: (address) => {
      const v = ownership.check(address);
      return v.owned ? undefined : v.reason;
    },
    blocked: (ip) => blocked(ip),
  });
  await directory.load();

  const epochFor: EpochSource = (address) => {
    const v = ownership.check(address);
    // STALE_EPOCH: IMAP answers NO [UNAVAILABLE] and closes, POP3 -ERR [SYS/TEMP], LMTP 450 4.2.0 (retried by the gateway).
    if (!v.owned) throw new StoreError('STALE_EPOCH', `mailbox ${address} is not served by this node now (${v.reason})`);
    ownership.hold(address, v.epoch);
    return { epoch: v.epoch, stillOwner: () => ownership.stillHolds(address, v.epoch), canWrite: () => ownership.canWrite(address) };
  };

  // LMTP answers 450 4.2.0 for a mailbox not served here now (the gateway retries, after the move at its new owner).
  const owns = (address: string): boolean => ownership.check(address).owned;
  // Failed logins per (user, source) count over every node and proxy: a client reaching nodes directly (pair members, internal submission) cannot spread its guesses either.
  const sharing = hubLoginHistory(client, { memberId: cfg.memberId, limits: cfg.limits, log });
  const node = await startNode({ ...nodeOptionsFromConfig(cfg), directory, epochFor, owns, loginHistory: sharing.history, router: placementRouter(cfg.memberId, directory, () => made.member?.placement, () => made.node), log });
  made.node = node;

  const released = new Counter({ name: 'mailfleet_cluster_mailboxes_released_total', help: 'Mailboxes this node handed over or dropped (moves, failovers, lease lapses)', labelNames: ['why'], registers: [node.registry] });
  const fence = (addresses: readonly string[], why: 'moved' | 'lease' | 'incarnation') => {
    for (const a of addresses) node.store.fence(a, why === 'moved' ? 'the mailbox moved to another node' : why === 'lease' ? 'this node’s lease lapsed' : 'this node incarnation ended');
    if (addresses.length) released.inc({ why }, addresses.length);
  };

  const appliers = new SettingsAppliers();
  appliers.on('limits', (l) => node.applyLimits({ maxConnections: l?.maxConnections ?? cfg.limits.maxConnections, maxMessageBytes: l?.maxMessageBytes ?? cfg.limits.maxMessageBytes }));
  appliers.on('blocklist', (b) => {
    blocked = ipMatcher(b?.ips ?? []);
  });
  appliers.on('tls', (t) => node.applyTls(t));
  appliers.on('sharedFolders', (s) => node.applySharedFolders(s));

  const member = new ClusterMember({
    memberId: cfg.memberId,
    role: 'node',
    site: cfg.site,
    version: NODE_VERSION,
    advertise: cfg.advertise,
    storageRoot: cfg.storage.path,
    client,
    log,
    hooks: {
      placement: (snapshot) => fence(ownership.commit(snapshot), 'moved'),
      proposal: async (id, snapshot) => {
        const moving = ownership.propose(id, snapshot);
        await Promise.all(moving.map((a) => node.store.release(a, 'the mailbox moved to another node')));
        ownership.released(moving);
        if (moving.length) {
          released.inc({ why: 'moved' }, moving.length);
          log.info({ proposal: id, released: moving.length }, 'mailboxes handed over');
        }
      },
      leaseChanged: (holds) => {
        if (!holds) fence(ownership.dropAll(), 'lease');
      },
      reset: () => fence(ownership.dropAll(), 'incarnation'),
      settings: (s) => appliers.apply(s),
      directory: (change) => directory.invalidate(change),
      // Gauges the hub keeps for an hour for the dashboard's charts (hub/activity.ts).
      stats: () => {
        const open = node.sessions();
        return {
          mailboxes: ownership.heldAddresses().length,
          imapSessions: open.imap,
          pop3Sessions: open.pop3,
          lmtpSessions: open.lmtp,
          submissionSessions: open.submission,
          // A counter since start (hub/protocol PERF_STATS); the dashboard charts it per minute.
          messagesIn: node.messagesIn(),
        };
      },
    },
  });
  made.member = member;

  new Gauge({
    name: 'mailfleet_cluster_heartbeat_age_seconds',
    help: 'Seconds since the hub last answered a heartbeat of this member',
    registers: [node.registry],
    collect() {
      const age = member.heartbeatAgeMs();
      this.set(age === null ? -1 : age / 1000);
    },
  });
  new Gauge({
    name: 'mailfleet_cluster_lease_remaining_seconds',
    help: 'Seconds this member may still serve without another renewal',
    registers: [node.registry],
    collect() {
      this.set(member.leaseRemainingMs() / 1000);
    },
  });
  new Gauge({
    name: 'mailfleet_cluster_mailboxes_held',
    help: 'Mailboxes this node has open or opened at its current epochs',
    registers: [node.registry],
    collect() {
      this.set(ownership.heldAddresses().length);
    },
  });
  new Gauge({
    name: 'mailfleet_cluster_placement_version',
    help: 'Placement version this member acts on',
    registers: [node.registry],
    collect() {
      this.set(ownership.version);
    },
  });

  new Gauge({
    name: 'mailfleet_login_throttle_shared_pairs',
    help: '(user, client address) pairs at their failed-login limit counted over the whole cluster, as the hub last answered',
    registers: [node.registry],
    collect() {
      this.set(sharing.started()?.sharedPairs ?? 0);
    },
  });

  const ports: Record<string, number> = { imap: node.imapPort, pop3: node.pop3Port, lmtp: node.lmtpPort, management: node.healthPort };
  if (node.imapsPort) ports.imaps = node.imapsPort;
  if (node.pop3sPort) ports.pop3s = node.pop3sPort;
  if (node.submissionPort) ports.submission = node.submissionPort;
  if (node.smtpsPort) ports.smtps = node.smtpsPort;
  await member.start(ports);
  const sharedLogins = sharing.started();
  sharedLogins?.start();
  // With the cluster CA the node asks the hub for its own certificate (the role certificate stays the fallback); the proxies' hop checks it names this node.
  const certificate = secrets.caPem
    ? new MemberCertificate({
        memberId: cfg.memberId,
        advertise: cfg.advertise,
        caPem: secrets.caPem,
        incarnation: () => (member.isRegistered ? member.incarnation : undefined),
        request: (body, timeoutMs) => client.call('POST', '/v1/cluster/certificate', body, CertificateAnswer, timeoutMs),
        apply: (pair) => node.applyClusterCertificate(pair),
        log,
      })
    : undefined;
  certificate?.start();
  if (certificate) {
    new Gauge({
      name: 'mailfleet_cluster_member_certificate_expiry_timestamp_seconds',
      help: 'notAfter of the certificate the hub issued to this member (0: none yet, the role certificate is served)',
      registers: [node.registry],
      collect() {
        this.set(certificate.notAfter ? certificate.notAfter.getTime() / 1000 : 0);
      },
    });
  }

  return {
    ...node,
    member,
    ownership,
    close: async () => {
      certificate?.stop();
      sharedLogins?.stop();
      await member.stop();
      await directory.close();
      await node.close();
    },
  };
}
