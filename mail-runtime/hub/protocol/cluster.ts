import { z } from 'zod';
import { address, domain, memberId, memberRole, quota, version } from './common';
import { PlacementSnapshot } from './placement';
import { SettingsSnapshot } from './settings';

/**
 * Member ↔ hub messages (internal endpoints under `/v1/cluster/`, bearer
 * cluster token from RuntimeConfig `clusterTokenFile`, never the admin
 * token).
 *
 *   POST /v1/cluster/register     RegisterRequest  → RegisterResponse
 *   POST /v1/cluster/heartbeat    HeartbeatRequest → HeartbeatResponse (every timing.heartbeatMs)
 *   GET  /v1/cluster/stream       one long-lived NDJSON response of StreamEvent lines
 *   POST /v1/cluster/ack          ProposalAck      → { ok: true }
 *   GET  /v1/cluster/users/{a}    → MemberUserAnswer      (nodes: the users they own, with hashes)
 *   POST /v1/cluster/users/lookup UsersLookupRequest → UsersLookupAnswer
 *   GET  /v1/cluster/recipients/{a} → RecipientAnswer     (gateways: existence and aliases, no hashes)
 *   GET  /v1/cluster/identities/{a} → IdentityAnswer      (nodes: what an IMAP ACL identifier names)
 *   GET  /v1/cluster/domains      → DomainsAnswer
 *   POST /v1/cluster/certificate  CertificateRequest → CertificateAnswer (cluster CA)
 *
 * Why one NDJSON stream per member and not WebSocket or SSE: the hub only
 * ever pushes (placements, proposals, settings, directory changes, pings) and
 * the member's side goes through plain POSTs whose answers renew its lease,
 * so a one-way stream is enough; NDJSON over a chunked HTTP/1.1 response
 * needs no library on either side, passes any HTTP proxy, uses the same
 * TLS and bearer token as every other call, and each line is parsed by the
 * zod schema below. Its drop is the hub's cue to probe the member's ports
 * (DESIGN.md "Failure detection").
 *
 * A hub that is not the active one answers every call with 503 and a body
 * `{ error: { code: 'not_active', active?: url } }`; members try their hub
 * URLs in order and follow `active`.
 */

export const HubInfo = z.strictObject({
  /** The hub's member id. */
  id: memberId,
  /** Hub lease epoch (hub/lease): grows with every takeover. */
  epoch: z.number().int().nonnegative(),
  /** Base URL members should use for this hub. */
  url: z.url(),
});
export type HubInfo = z.infer<typeof HubInfo>;

/** Timing every member follows, decided by the active hub's config (one default each, config/schema.ts). */
export const ClusterTiming = z.strictObject({
  heartbeatMs: z.number().int().min(10),
  /** Silence after which the hub declares a member dead. */
  deadAfterMs: z.number().int().min(10),
  /**
   * How long one answered heartbeat lets the member serve, measured on the
   * member's monotonic clock from the moment it *sent* that heartbeat:
   * deadAfterMs minus the safety margin, so the member has stopped before
   * the hub can reassign.
   */
  leaseMs: z.number().int().min(10),
});
export type ClusterTiming = z.infer<typeof ClusterTiming>;

const port = z.number().int().min(1).max(65535);

export const RegisterRequest = z.strictObject({
  protocol: z.number().int().min(1),
  memberId,
  role: memberRole,
  site: z.string().min(1),
  /** Software version of the member (`0.1.0`). */
  version: z.string().min(1).max(64),
  /** Host other members reach this one on. */
  advertise: z.string().min(1),
  /** Listener name → port; `management` is probed when the stream drops. */
  ports: z.record(z.string().min(1), port),
  /**
   * The incarnation a running member holds (it is resuming with a new hub
   * after a failover); absent for a member that just started. The hub
   * resumes it only if it was never declared dead since.
   */
  incarnation: z.number().int().nonnegative().optional(),
});
export type RegisterRequest = z.infer<typeof RegisterRequest>;

export const RegisterResponse = z.strictObject({
  protocol: z.number().int().min(1),
  hub: HubInfo,
  /** The member's incarnation: every later call carries it. */
  incarnation: z.number().int().nonnegative(),
  /**
   * True when the member may keep what it serves (same incarnation, never
   * declared dead). False: it must drop every mailbox it holds and serve
   * only what `placement` gives it.
   */
  resumed: z.boolean(),
  timing: ClusterTiming,
  placement: PlacementSnapshot,
  settings: SettingsSnapshot,
  /** Directory change sequence: cached directory entries older than this may be stale. */
  directorySeq: z.number().int().nonnegative(),
  /**
   * File (relative to the storage root) the member writes its heartbeat
   * counter to, so that it stays alive while it can reach the storage but
   * not the hub (membership/storage-heartbeat.ts).
   */
  storageHeartbeat: z.string().min(1),
});
export type RegisterResponse = z.infer<typeof RegisterResponse>;

/**
 * Performance figures members add to their heartbeat `stats` (issue 16).
 * Additive within protocol version 1: every field is optional, so a member
 * that predates them still heartbeats; a member that sends one must send a
 * sensible value (counters are non-negative integers, since process start,
 * so the hub and the dashboard turn them into per-minute rates and see a
 * restart as a drop).
 *  - node: `messagesIn` messages delivered into its mailboxes (LMTP and submission);
 *  - gateway: `messagesIn` messages accepted on MX (and the relay listener),
 *    `messagesOut` recipients delivered to other MTAs, `queueDepth` entries not
 *    yet finished, `deliveryP50Ms`/`deliveryP99Ms` acceptance-to-delivery
 *    latency over its recent deliveries.
 */
export const PERF_STATS = {
  messagesIn: 'counter',
  messagesOut: 'counter',
  queueDepth: 'gauge',
  deliveryP50Ms: 'gauge',
  deliveryP99Ms: 'gauge',
} as const;

export const MemberStats = z.record(z.string().min(1).max(64), z.number().finite()).superRefine((stats, ctx) => {
  for (const [name, kind] of Object.entries(PERF_STATS)) {
    const v = stats[name];
    if (v === undefined) continue;
    if (v < 0 || (kind === 'counter' && !Number.isInteger(v))) ctx.addIssue({ code: 'custom', path: [name], message: `must be a non-negative ${kind === 'counter' ? 'integer (a count since the process started)' : 'number'}` });
  }
});

export const HeartbeatRequest = z.strictObject({
  memberId,
  incarnation: z.number().int().nonnegative(),
  /** Monotonic per process; the storage heartbeat file carries the same counter. */
  counter: z.number().int().nonnegative(),
  applied: z.strictObject({ placement: version, settings: version }),
  /** Gauges the hub shows in `GET /v1/members` (connections, queue depth...). */
  stats: MemberStats.optional(),
});
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;

export const HeartbeatResponse = z.strictObject({
  ok: z.literal(true),
  leaseMs: z.number().int().min(1),
  placementVersion: version,
  settingsVersion: version,
  directorySeq: z.number().int().nonnegative(),
});
export type HeartbeatResponse = z.infer<typeof HeartbeatResponse>;

/**
 * Cluster-wide login throttling (auth/limiter.ts, the per-(user, client
 * address) limit): members report the pairs' failed logins to the hub and
 * get back every pair whose failures, counted over all members, reach the
 * limit, so guesses spread over proxies count together. A pair is named as
 * the limiter keys it (`pair:<user> <address>`). Times are ages on the
 * hub's clock, never wall-clock times compared across hosts.
 */
export const LOGIN_REPORT_MAX = 1000;
export const LOGIN_ANSWER_MAX = 10_000;
const loginPair = z.string().min(7).max(600).startsWith('pair:');
export const LoginFailuresReport = z.strictObject({
  memberId,
  /** One entry per failed login since the last report. */
  failures: z.array(loginPair).max(LOGIN_REPORT_MAX),
  /** Pairs a successful login forgave (their failures are forgotten cluster-wide). */
  forgiven: z.array(loginPair).max(LOGIN_REPORT_MAX),
  /** The member's failure window (limits.loginFailureWindowSeconds). */
  windowMs: z.number().int().min(1000).max(86_400_000),
  /** Pairs with fewer failures than this are left out of the answer (the member's limits.loginFailuresPerUserAddress). */
  atLeast: z.number().int().min(1).max(1000),
});
export type LoginFailuresReport = z.infer<typeof LoginFailuresReport>;
export const LoginThrottleAnswer = z.strictObject({
  pairs: z.array(z.strictObject({ key: loginPair, count: z.number().int().min(1), ageMs: z.number().int().nonnegative() })).max(LOGIN_ANSWER_MAX),
});
export type LoginThrottleAnswer = z.infer<typeof LoginThrottleAnswer>;

/** The member's answer to a placement proposal: it has closed and flushed every mailbox it loses under the proposal. */
export const ProposalAck = z.strictObject({
  memberId,
  incarnation: z.number().int().nonnegative(),
  proposal: z.number().int().min(1),
});
export type ProposalAck = z.infer<typeof ProposalAck>;

/**
 * One line of the stream. Members ignore `type`s they do not know (a newer
 * hub may add some within the same protocol version).
 */
/** A gateway queue folder's name (smtp/queue/layout.ts FOLDER_NAME: a DNS label, the member id it was created for). */
const queueFolderName = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a queue folder name (a DNS label)');

export const StreamEvent = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('hello'), hub: HubInfo, placementVersion: version, settingsVersion: version, directorySeq: z.number().int().nonnegative() }),
  /** A committed placement: compute owners from it from now on. */
  z.strictObject({ type: z.literal('placement'), snapshot: PlacementSnapshot }),
  /**
   * A proposed placement (the next version). A node closes and flushes every
   * mailbox it holds whose owner under the proposal is another node, stops
   * opening such mailboxes (LMTP 450 4.2.0, logins NO [UNAVAILABLE]), then
   * posts a ProposalAck. The hub commits once every live node acknowledged.
   */
  z.strictObject({ type: z.literal('proposal'), proposal: z.number().int().min(1), snapshot: PlacementSnapshot }),
  z.strictObject({ type: z.literal('settings'), settings: SettingsSnapshot }),
  /** Directory entries changed: drop them from caches (`reset`: drop everything, the change log did not reach back far enough). */
  z.strictObject({ type: z.literal('directory'), seq: z.number().int().nonnegative(), changed: z.array(address).default([]), reset: z.boolean().default(false) }),
  /** Keeps the stream visibly alive (sent every heartbeat interval). */
  z.strictObject({ type: z.literal('ping'), at: z.number().int() }),
  /** The hub declared this member (incarnation) dead: stop serving, re-register. */
  z.strictObject({ type: z.literal('fenced'), reason: z.string() }),
  /**
   * To a gateway: take over this queue folder of a gateway that is gone, at
   * this epoch (smtp/queue/owner.ts), and deliver its entries. Sent again
   * until the folder's marker shows the claim; claiming twice at the same
   * epoch is a no-op for the same gateway.
   */
  z.strictObject({ type: z.literal('queue'), folder: queueFolderName, epoch: z.number().int().min(1) }),
]);
export type StreamEvent = z.output<typeof StreamEvent>;
export const STREAM_EVENT_TYPES = ['hello', 'placement', 'proposal', 'settings', 'directory', 'ping', 'fenced', 'queue'] as const;

/** A user as a node needs it to log them in: the scrypt hash (mail-runtime/auth/password.ts format), quota, state. */
export const MemberUser = z.strictObject({
  address,
  passwordHash: z.string().min(1),
  quota: quota.optional(),
  enabled: z.boolean(),
  /** Addresses mail to this user is also sent to (external forwarding). */
  forwardTo: z.array(address).default([]),
  /** With forwardTo: keep a copy in the mailbox too. */
  keepCopy: z.boolean().default(true),
});
export type MemberUser = z.output<typeof MemberUser>;

export const MemberUserAnswer = z.strictObject({ user: MemberUser.nullable(), seq: z.number().int().nonnegative() });
export type MemberUserAnswer = z.output<typeof MemberUserAnswer>;

/** At most this many addresses per lookup (a node warming its cache pages through its users). */
export const USERS_LOOKUP_MAX = 1000;
export const UsersLookupRequest = z.strictObject({ addresses: z.array(address).min(1).max(USERS_LOOKUP_MAX) });
export const UsersLookupAnswer = z.strictObject({ users: z.array(MemberUser), seq: z.number().int().nonnegative() });
export type UsersLookupAnswer = z.output<typeof UsersLookupAnswer>;

/**
 * What a recipient address is, for a gateway (RCPT TO): a mailbox (after
 * domain alias and catch-all), an alias expanding to other addresses, or
 * nothing. No password hashes.
 */
export const Recipient = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('mailbox'), address, forwardTo: z.array(address).default([]), keepCopy: z.boolean().default(true) }),
  z.strictObject({ kind: z.literal('alias'), address, targets: z.array(address).min(1) }),
  /** The domain is hosted but the address is unknown (550 5.1.1). */
  z.strictObject({ kind: z.literal('unknown') }),
  /** The domain is not hosted here (relaying rules apply). */
  z.strictObject({ kind: z.literal('not-hosted') }),
]);
export type Recipient = z.output<typeof Recipient>;
export const RecipientAnswer = z.strictObject({ recipient: Recipient, seq: z.number().int().nonnegative() });
export type RecipientAnswer = z.output<typeof RecipientAnswer>;

/**
 * What an IMAP ACL identifier (RFC 4314 §2) names, for a node's SETACL: one
 * user (her canonical address; an alias whose targets come down to her),
 * several users (an alias with several targets), or nothing (a catch-all
 * makes no address known). Mirrors mail-runtime/auth `Identity`.
 */
export const Identity = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('user'), address }),
  z.strictObject({ kind: z.literal('group'), targets: z.array(address).min(2) }),
  z.strictObject({ kind: z.literal('unknown') }),
]);
export const IdentityAnswer = z.strictObject({ identity: Identity, seq: z.number().int().nonnegative() });

export const MemberDomain = z.strictObject({
  name: domain,
  aliases: z.array(domain),
  catchAll: address.nullable(),
  dkim: z.strictObject({ selector: z.string(), keyRef: z.string() }).nullable(),
});
export const DomainsAnswer = z.strictObject({ domains: z.array(MemberDomain), seq: z.number().int().nonnegative() });
export type DomainsAnswer = z.output<typeof DomainsAnswer>;

/**
 * A member asks the hub's cluster CA for a short-lived certificate naming
 * itself (hub/ca signMemberCertificate). The member makes its key pair and
 * keeps the private key: it sends a PKCS#10 request (RFC 2986) for the
 * public key, signed with the private one (proof of possession). The hub
 * signs only for a registered, live member (this incarnation) and only
 * names it may use: its member id, its advertised host, the address the
 * request came from; never another member's id or advertised name, nor
 * the hub's names (403 naming the field and the owner of the name).
 */
export const CERTIFICATE_NAMES_MAX = 16;
export const CertificateRequest = z.strictObject({
  memberId,
  incarnation: z.number().int().nonnegative(),
  /** PEM PKCS#10 request for the member's own key (RSA ≥ 2048, EC P-256/P-384, Ed25519). */
  csrPem: z.string().min(100).max(16_384).startsWith('-----BEGIN CERTIFICATE REQUEST-----'),
  /** DNS names besides the member id (its advertise host when a name); no wildcards (RFC 6125 §7.2). */
  names: z
    .array(z.string().max(253).regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, 'must be a lower-case DNS name without wildcards'))
    .max(CERTIFICATE_NAMES_MAX)
    .default([]),
  ips: z.array(z.union([z.ipv4(), z.ipv6()])).max(CERTIFICATE_NAMES_MAX).default([]),
});
export type CertificateRequest = z.output<typeof CertificateRequest>;
export const CertificateAnswer = z.strictObject({
  certPem: z.string(),
  /** The CA certificate that signed it (the member checks it is the one it trusts, clusterTls.caFile). */
  caPem: z.string(),
  /** The lifetime the hub gave it (hub `memberCertificateSeconds`): the member renews after two thirds of it, on its own monotonic clock. */
  validForMs: z.number().int().min(1000),
  notAfter: z.iso.datetime(),
});
export type CertificateAnswer = z.output<typeof CertificateAnswer>;

/**
 * The storage heartbeat (membership without the hub's network): a member
 * rewrites `<storage>/hub/members/<id>.heartbeat` (rename, atomic) every
 * heartbeat interval with its incarnation and counter, and renews its lease
 * from a successful write as from an answered heartbeat. The hub reads the
 * file only for members whose HTTP heartbeats are overdue, and counts a
 * higher counter of the current incarnation as a sign of life observed when
 * its read completes. So a member cut off from the hub but not from the
 * storage keeps serving (the hub is not on the data path), and one that can
 * reach neither stops before the hub reassigns its mailboxes.
 *
 * To end a member's lease the hub writes `<id>.fence` with the member's new
 * incarnation; a member reads it before each storage heartbeat and stops
 * renewing (and serving) when it names a higher incarnation than its own.
 */
export const StorageHeartbeat = z.strictObject({ incarnation: z.number().int().nonnegative(), counter: z.number().int().nonnegative() });
export type StorageHeartbeat = z.infer<typeof StorageHeartbeat>;
export const StorageFence = z.strictObject({ incarnation: z.number().int().nonnegative(), reason: z.string() });
export type StorageFence = z.infer<typeof StorageFence>;

/** Paths relative to the storage root. */
export function storageHeartbeatFiles(id: string): { heartbeat: string; fence: string } {
  return { heartbeat: `hub/members/${id}.heartbeat`, fence: `hub/members/${id}.fence` };
}
