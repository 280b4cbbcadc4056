import { z } from 'zod';
import { isPasswordHash } from '../../auth';
import { address, domain, memberId, memberRole, quota, version } from './common';
import { nodeState, PlacementNode } from './placement';
import { ClusterSettings } from './settings';

/**
 * Admin API bodies and answers (`/v1/...`, bearer admin token from
 * RuntimeConfig `adminTokenFile`). The OpenAPI 3.1 description served at
 * `/v1/openapi.json` is generated from these schemas (hub/api/openapi.ts).
 *
 * Every error answer has the body `ApiError`: a machine code, a sentence,
 * and for bad input one problem per field, each naming its path
 * (`body.address`, `query.limit`).
 */
export const ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'payload_too_large',
  'unsupported_media_type',
  'not_active',
  'unavailable',
  'internal',
  /** Too many attempts (dashboard logins from one address): the Retry-After header says when to try again. */
  'rate_limited',
] as const;
export const ApiError = z.strictObject({
  error: z.strictObject({
    code: z.enum(ERROR_CODES),
    message: z.string(),
    problems: z.array(z.strictObject({ path: z.string(), message: z.string() })).optional(),
    /** With `not_active`: the active hub's URL, when known. */
    active: z.url().optional(),
  }),
});
export type ApiError = z.infer<typeof ApiError>;
export type ApiErrorCode = (typeof ERROR_CODES)[number];

/** Paging: an opaque cursor from the previous page, and a page size. */
export const PAGE_MAX = 1000;
export const PAGE_DEFAULT = 100;
export const PageQuery = z.strictObject({
  cursor: z.string().max(512).optional(),
  limit: z.coerce.number().int().min(1).max(PAGE_MAX).default(PAGE_DEFAULT),
});

// ---- domains ---------------------------------------------------------------

export const DomainPlacement = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('split') }),
  z.strictObject({ mode: z.literal('pinned'), nodes: z.array(memberId).min(1) }),
]);
export type DomainPlacement = z.infer<typeof DomainPlacement>;

/** A DKIM key reference: the selector published in DNS and where the key is (a settings `dkim` entry or a secret name). */
export const DkimRef = z.strictObject({ selector: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a DNS label'), keyRef: z.string().min(1).max(256) });

export const DomainCreate = z.strictObject({
  name: domain,
  /** Alias domains: `u@alias` delivers to `u@name`. */
  aliases: z.array(domain).max(1000).default([]),
  /** Unknown local parts of this domain deliver here (null: rejected at RCPT). */
  catchAll: address.nullable().default(null),
  dkim: DkimRef.nullable().default(null),
  /** Quota of users created without their own. */
  defaultQuota: quota.nullable().default(null),
  placement: DomainPlacement.default({ mode: 'split' }),
});
export type DomainCreate = z.output<typeof DomainCreate>;

export const DomainUpdate = z.strictObject({
  aliases: z.array(domain).max(1000).optional(),
  catchAll: address.nullable().optional(),
  dkim: DkimRef.nullable().optional(),
  defaultQuota: quota.nullable().optional(),
  placement: DomainPlacement.optional(),
});
export type DomainUpdate = z.output<typeof DomainUpdate>;

export const Domain = z.strictObject({
  name: domain,
  aliases: z.array(domain),
  catchAll: address.nullable(),
  dkim: DkimRef.nullable(),
  defaultQuota: quota.nullable(),
  placement: DomainPlacement,
  users: z.number().int().nonnegative(),
});
export type Domain = z.output<typeof Domain>;
export const DomainPage = z.strictObject({ domains: z.array(Domain), next: z.string().nullable() });

// ---- users -----------------------------------------------------------------

/** Minimum length of a password set through the API (NIST SP 800-63B §3.1.1.2: at least 8). */
export const MIN_PASSWORD_LENGTH = 8;
/** Longer passwords are refused: scrypt input is hashed anyway, and a megabyte "password" is an attack. */
export const MAX_PASSWORD_LENGTH = 1024;

const password = z.string().min(MIN_PASSWORD_LENGTH, `at least ${MIN_PASSWORD_LENGTH} characters`).max(MAX_PASSWORD_LENGTH);
export const passwordHash = z.string().refine(isPasswordHash, 'must be a scrypt hash "scrypt$N$r$p$salt$hash" (mailfleet user hash)');

export const UserCreate = z
  .strictObject({
    address,
    /** Hashed by the hub (scrypt); never stored or logged in clear. */
    password: password.optional(),
    passwordHash: passwordHash.optional(),
    quota: quota.nullable().optional(),
    enabled: z.boolean().default(true),
    // A forwarding target may be outside the cluster: any syntactically valid address.
    forwardTo: z.array(address).max(100).default([]),
    keepCopy: z.boolean().default(true),
  })
  .superRefine((u, ctx) => {
    if ((u.password === undefined) === (u.passwordHash === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'give exactly one of password and passwordHash' });
    }
  });
export type UserCreate = z.output<typeof UserCreate>;

export const UserUpdate = z.strictObject({
  quota: quota.nullable().optional(),
  enabled: z.boolean().optional(),
  forwardTo: z.array(address).max(100).optional(),
  keepCopy: z.boolean().optional(),
});
export type UserUpdate = z.output<typeof UserUpdate>;

export const PasswordChange = z
  .strictObject({ password: password.optional(), passwordHash: passwordHash.optional() })
  .superRefine((u, ctx) => {
    if ((u.password === undefined) === (u.passwordHash === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'give exactly one of password and passwordHash' });
    }
  });

/** A user as the admin API shows it: never the hash. */
export const User = z.strictObject({
  address,
  domain,
  /** Own quota, or null when the domain default applies. */
  quota: quota.nullable(),
  enabled: z.boolean(),
  forwardTo: z.array(address),
  keepCopy: z.boolean(),
});
export type User = z.output<typeof User>;
export const UserPage = z.strictObject({ users: z.array(User), next: z.string().nullable(), total: z.number().int().nonnegative().optional() });

export const UserListQuery = PageQuery.extend({
  domain: domain.optional(),
  /** Substring of the address (case-insensitive). A prefix search (`alice*`) uses the index. */
  search: z.string().max(254).optional(),
});

/**
 * One row of a bulk import (NDJSON line, or CSV with the header
 * `address,passwordHash,quotaBytes,quotaMessages,enabled`). Only hashes:
 * hashing a million passwords with scrypt would take the hub hours.
 */
export const ImportRow = z.strictObject({
  address,
  passwordHash,
  quota: quota.nullable().optional(),
  enabled: z.boolean().default(true),
});
export type ImportRow = z.output<typeof ImportRow>;
export const ImportQuery = z.strictObject({
  /** `insert`: an existing address is an error (nothing imported); `upsert`: existing users are replaced. */
  mode: z.enum(['insert', 'upsert']).default('insert'),
});
export const ImportResult = z.strictObject({ imported: z.number().int().nonnegative(), ms: z.number().int().nonnegative() });

// ---- aliases ---------------------------------------------------------------

export const AliasCreate = z.strictObject({ address, targets: z.array(address).min(1).max(1000) });
export type AliasCreate = z.output<typeof AliasCreate>;
/** An alias as the API answers it (the same fields as when it is made). */
export const Alias = AliasCreate.extend({});
export const AliasPage = z.strictObject({ aliases: z.array(Alias), next: z.string().nullable() });

// ---- placement ---------------------------------------------------------------

export const MoveUser = z.strictObject({
  address,
  /** Target node, or null to drop the override (the ring decides again). */
  node: memberId.nullable(),
});
export const NodeAction = z.strictObject({ node: memberId });

export const OwnerAnswer = z.strictObject({
  address,
  /** After domain aliases. */
  mailbox: address,
  node: memberId.nullable(),
  /** Version at which the owner acquired the mailbox: what it opens the store with. */
  epoch: z.number().int().nullable(),
  version,
});

export const PlacementView = z.strictObject({
  version,
  nodes: z.array(PlacementNode),
  pinned: z.record(domain, z.array(memberId)),
  domainAliases: z.record(domain, domain),
  overrides: z.number().int().nonnegative(),
  /** A proposal waiting for acknowledgements (a move in progress). */
  pending: z.strictObject({ proposal: z.number().int(), waitingFor: z.array(memberId) }).nullable(),
});

export const PlacementChangeAnswer = z.strictObject({ version });

export const PlacementSummary = z.strictObject({
  version,
  /** Every node of the placement with the users and domains it serves now. */
  nodes: z.array(z.strictObject({ id: memberId, state: nodeState, users: z.number().int().nonnegative(), domains: z.array(domain) })),
  /** Users no node can serve now (no live node on the ring). */
  unplaced: z.number().int().nonnegative(),
});

// ---- members -------------------------------------------------------------------

export const Member = z.strictObject({
  id: memberId,
  role: memberRole,
  site: z.string(),
  version: z.string(),
  advertise: z.string(),
  ports: z.record(z.string(), z.number().int()),
  state: z.enum(['live', 'dead']),
  /** Why the hub last declared it dead (null: never, while this hub was active). */
  deathReason: z.string().nullable(),
  /** For nodes: their placement state. */
  nodeState: nodeState.nullable(),
  incarnation: z.number().int(),
  heartbeatAgeMs: z.number().int().nullable(),
  streamConnected: z.boolean(),
  applied: z.strictObject({ placement: version, settings: version }).nullable(),
  stats: z.record(z.string(), z.number()).nullable(),
  /** When its current process registered, as the active hub saw it (null: dead, or unknown to this hub). */
  upSince: z.iso.datetime().nullable(),
});
export const MemberList = z.strictObject({ members: z.array(Member) });

/**
 * Queue folders of gone gateways given to live ones (hub/queues): `claimed`
 * once the gateway's claim at `epoch` is on the storage. `graceSeconds`:
 * how long a gateway stays dead before its folders move (0: never).
 */
export const QueueTakeoverList = z.strictObject({
  graceSeconds: z.number().nonnegative(),
  takeovers: z.array(
    z.strictObject({ folder: z.string(), from: memberId, to: memberId, epoch: z.number().int().min(1), assignedAt: z.iso.datetime(), claimed: z.boolean() }),
  ),
});

// ---- settings --------------------------------------------------------------------

export const SettingsApply = z.strictObject({
  settings: ClusterSettings,
  /** Optimistic concurrency: refused (409) unless the current version is this one. */
  baseVersion: version.optional(),
});
export const SettingsCheck = z.strictObject({ settings: z.unknown() });
export const SettingsValidation = z.strictObject({
  ok: z.boolean(),
  problems: z.array(z.strictObject({ path: z.string(), message: z.string() })),
});
export const SettingsDiff = z.strictObject({
  baseVersion: version,
  changes: z.array(z.strictObject({ path: z.string(), op: z.enum(['add', 'remove', 'change']), from: z.unknown().optional(), to: z.unknown().optional() })),
});
export const SettingsView = z.strictObject({
  version,
  settings: ClusterSettings,
  /** Which version each member applied. */
  applied: z.record(memberId, version),
});

// ---- dashboard: timeline and the last hour of member gauges --------------------------------

export const ActivityList = z.strictObject({
  events: z.array(
    z.strictObject({
      at: z.iso.datetime(),
      kind: z.enum(['hub-active', 'hub-standby', 'member-joined', 'member-rejoined', 'member-dead', 'queue-takeover']),
      member: z.string().nullable(),
      detail: z.string(),
    }),
  ),
});
export const HistoryQuery = z.strictObject({
  /** Only samples at or after this time (epoch ms): a page polls for what is new. */
  since: z.coerce.number().int().nonnegative().optional(),
});
export const StatsHistory = z.strictObject({
  windowMs: z.number().int(),
  sampleMs: z.number().int(),
  /** Per member, oldest first: wall-clock ms and the gauges of its heartbeat then. */
  members: z.record(z.string(), z.array(z.strictObject({ t: z.number().int(), stats: z.record(z.string(), z.number()) }))),
});

// ---- hub and metrics -----------------------------------------------------------------

export const HubStatus = z.strictObject({
  id: memberId,
  active: z.boolean(),
  epoch: z.number().int(),
  activeUrl: z.url().nullable(),
});

export const MetricsSummary = z.strictObject({
  hub: HubStatus,
  members: z.strictObject({ total: z.number().int(), live: z.number().int(), dead: z.number().int() }),
  nodes: z.strictObject({ active: z.number().int(), drained: z.number().int(), dead: z.number().int() }),
  domains: z.number().int(),
  users: z.number().int(),
  placementVersion: version,
  settingsVersion: version,
  /** Members declared dead since this hub became active (each moves mailboxes). */
  failovers: z.number().int(),
  maxHeartbeatAgeMs: z.number().int().nullable(),
});
