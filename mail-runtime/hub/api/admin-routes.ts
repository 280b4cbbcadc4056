import { z } from 'zod';
import { hashPassword } from '../../auth';
import { HISTORY_SAMPLE_MS, HISTORY_WINDOW_MS } from '../activity';
import { importUsers, type ImportFormat } from '../directory';
import { HubError } from '../errors';
import type { Hub } from '../hub';
import {
  ActivityList,
  address,
  Alias,
  AliasCreate,
  AliasPage,
  Domain,
  DomainCreate,
  DomainPage,
  DomainUpdate,
  domain,
  HistoryQuery,
  HubStatus,
  ImportQuery,
  ImportResult,
  MemberList,
  memberId,
  MetricsSummary,
  MoveUser,
  NodeAction,
  OwnerAnswer,
  PageQuery,
  PasswordChange,
  PAGE_MAX,
  PlacementChangeAnswer,
  PlacementSummary,
  PlacementView,
  QueueTakeoverList,
  quota,
  redactSettings,
  SettingsApply,
  SettingsCheck,
  SettingsDiff,
  SettingsValidation,
  SettingsView,
  StatsHistory,
  User,
  UserCreate,
  UserListQuery,
  UserPage,
  UserUpdate,
  type Member,
} from '../protocol';
import { route, type AnyRoute } from './route';

/** Dashboard event streams one hub serves at once: a few operators' tabs; each holds a socket and a listener. */
const MAX_EVENT_STREAMS = 32;
/** A comment line this often, under the 60 s idle timeout common to proxies and load balancers. */
const EVENT_STREAM_KEEPALIVE_MS = 15_000;
const openStreams = new WeakMap<Hub, number>();

const NoContent = z.strictObject({ ok: z.literal(true) });
const ok = { ok: true as const };
const AddressParam = z.strictObject({ address });
const DomainParam = z.strictObject({ name: domain });

/** The admin API (bearer admin token). */
export const ADMIN_ROUTES: AnyRoute[] = [
  route({
    method: 'GET',
    path: '/v1/hub',
    auth: 'none',
    tag: 'hub',
    summary: 'This hub: id, whether it is active, its lease epoch, the active hub’s URL',
    response: HubStatus,
    handler: ({ hub }) => ({ id: hub.o.memberId, active: hub.isActive, epoch: hub.info().epoch, activeUrl: hub.activeUrl ?? null }),
  }),

  // ---- domains
  route({
    method: 'GET',
    path: '/v1/domains',
    auth: 'admin',
    tag: 'domains',
    summary: 'List domains (paged)',
    query: PageQuery,
    response: DomainPage,
    handler: ({ hub, query }) => hub.active().directory.listDomains(query),
  }),
  route({
    method: 'POST',
    path: '/v1/domains',
    auth: 'admin',
    tag: 'domains',
    summary: 'Add a domain (alias domains, catch-all, DKIM key reference, default quota, split or pinned placement)',
    body: DomainCreate,
    response: Domain,
    status: 201,
    handler: async ({ hub, body }) => {
      const a = hub.active();
      checkNodes(body.placement, a.placement.snapshot.nodes.map((n) => n.id));
      const d = a.directory.addDomain(body);
      await hub.syncDomains();
      return d;
    },
  }),
  route({
    method: 'GET',
    path: '/v1/domains/{name}',
    auth: 'admin',
    tag: 'domains',
    summary: 'One domain',
    params: DomainParam,
    response: Domain,
    handler: ({ hub, params }) => hub.active().directory.getDomain(params.name),
  }),
  route({
    method: 'PATCH',
    path: '/v1/domains/{name}',
    auth: 'admin',
    tag: 'domains',
    summary: 'Change a domain; a placement change moves its mailboxes (placement proposal)',
    params: DomainParam,
    body: DomainUpdate,
    response: Domain,
    handler: async ({ hub, params, body }) => {
      const a = hub.active();
      if (body.placement) checkNodes(body.placement, a.placement.snapshot.nodes.map((n) => n.id));
      const d = a.directory.updateDomain(params.name, body);
      await hub.syncDomains();
      return d;
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/domains/{name}',
    auth: 'admin',
    tag: 'domains',
    summary: 'Remove a domain that has no users and no aliases left',
    params: DomainParam,
    response: NoContent,
    handler: async ({ hub, params }) => {
      hub.active().directory.removeDomain(params.name);
      await hub.syncDomains();
      return ok;
    },
  }),

  // ---- users
  route({
    method: 'GET',
    path: '/v1/users',
    auth: 'admin',
    tag: 'users',
    summary: 'List users (paged; `search` is a substring, or a prefix ending in *; `domain` filters)',
    query: UserListQuery,
    response: UserPage,
    handler: ({ hub, query }) => hub.active().directory.listUsers(query),
  }),
  route({
    method: 'POST',
    path: '/v1/users',
    auth: 'admin',
    tag: 'users',
    summary: 'Add a user (a password is hashed with scrypt by the hub; or give a passwordHash)',
    body: UserCreate,
    response: User,
    status: 201,
    handler: async ({ hub, body }) => {
      hub.active();
      const passwordHash = body.passwordHash ?? (await hashPassword(body.password!));
      return hub.active().directory.addUser({ ...body, passwordHash });
    },
  }),
  route({
    method: 'POST',
    path: '/v1/users/import',
    auth: 'admin',
    tag: 'users',
    summary: 'Bulk import (text/csv with a header line, or application/x-ndjson); all or nothing',
    query: ImportQuery,
    rawBody: ['text/csv', 'application/x-ndjson'],
    response: ImportResult,
    handler: async ({ hub, req, query }) => {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const format: ImportFormat | undefined = type === 'text/csv' ? 'csv' : type === 'application/x-ndjson' ? 'ndjson' : undefined;
      if (!format) throw new HubError('unsupported_media_type', `send the users as text/csv or application/x-ndjson (got ${type || 'no content-type'})`);
      return importUsers(hub.active().directory, req, { format, mode: query.mode });
    },
  }),
  route({
    method: 'GET',
    path: '/v1/users/{address}',
    auth: 'admin',
    tag: 'users',
    summary: 'One user (never the password hash)',
    params: AddressParam,
    response: User,
    handler: ({ hub, params }) => hub.active().directory.getUser(params.address),
  }),
  route({
    method: 'PATCH',
    path: '/v1/users/{address}',
    auth: 'admin',
    tag: 'users',
    summary: 'Change quota, enabled, forwarding',
    params: AddressParam,
    body: UserUpdate,
    response: User,
    handler: ({ hub, params, body }) => hub.active().directory.updateUser(params.address, body),
  }),
  route({
    method: 'PUT',
    path: '/v1/users/{address}/password',
    auth: 'admin',
    tag: 'users',
    summary: 'Set a new password (or hash)',
    params: AddressParam,
    body: PasswordChange,
    response: NoContent,
    handler: async ({ hub, params, body }) => {
      hub.active().directory.getUser(params.address);
      const hash = body.passwordHash ?? (await hashPassword(body.password!));
      hub.active().directory.setPasswordHash(params.address, hash);
      return ok;
    },
  }),
  route({
    method: 'PUT',
    path: '/v1/users/{address}/quota',
    auth: 'admin',
    tag: 'quotas',
    summary: 'Set a user’s quota (null: the domain default applies)',
    params: AddressParam,
    body: z.strictObject({ quota: quota.nullable() }),
    response: User,
    handler: ({ hub, params, body }) => hub.active().directory.updateUser(params.address, { quota: body.quota }),
  }),
  route({
    method: 'POST',
    path: '/v1/users/{address}/disable',
    auth: 'admin',
    tag: 'users',
    summary: 'Disable a user (logins refused, mail refused like an unknown address); the mailbox stays',
    params: AddressParam,
    response: User,
    handler: ({ hub, params }) => hub.active().directory.updateUser(params.address, { enabled: false }),
  }),
  route({
    method: 'POST',
    path: '/v1/users/{address}/enable',
    auth: 'admin',
    tag: 'users',
    summary: 'Enable a user again',
    params: AddressParam,
    response: User,
    handler: ({ hub, params }) => hub.active().directory.updateUser(params.address, { enabled: true }),
  }),
  route({
    method: 'DELETE',
    path: '/v1/users/{address}',
    auth: 'admin',
    tag: 'users',
    summary: 'Remove a user from the directory (the mail files stay on the storage)',
    params: AddressParam,
    response: NoContent,
    handler: ({ hub, params }) => {
      hub.active().directory.removeUser(params.address);
      return ok;
    },
  }),

  // ---- aliases
  route({
    method: 'GET',
    path: '/v1/aliases',
    auth: 'admin',
    tag: 'aliases',
    summary: 'List aliases (paged)',
    query: PageQuery.extend({ domain: domain.optional() }),
    response: AliasPage,
    handler: ({ hub, query }) => hub.active().directory.listAliases(query),
  }),
  route({
    method: 'POST',
    path: '/v1/aliases',
    auth: 'admin',
    tag: 'aliases',
    summary: 'Add an alias (or forwarding address) delivering to one or more addresses',
    body: AliasCreate,
    response: Alias,
    status: 201,
    handler: ({ hub, body }) => hub.active().directory.addAlias(body),
  }),
  route({
    method: 'DELETE',
    path: '/v1/aliases/{address}',
    auth: 'admin',
    tag: 'aliases',
    summary: 'Remove an alias',
    params: AddressParam,
    response: NoContent,
    handler: ({ hub, params }) => {
      hub.active().directory.removeAlias(params.address);
      return ok;
    },
  }),

  // ---- placement
  route({
    method: 'GET',
    path: '/v1/placement',
    auth: 'admin',
    tag: 'placement',
    summary: 'The committed placement: version, nodes and their states, pinned domains, alias domains, a move in progress',
    response: PlacementView,
    handler: ({ hub }) => {
      const p = hub.active().placement;
      const s = p.snapshot;
      return { version: s.version, nodes: s.nodes, pinned: s.pinned, domainAliases: s.domainAliases, overrides: Object.keys(s.overrides).length, pending: p.pendingProposal };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/placement/summary',
    auth: 'admin',
    tag: 'placement',
    summary: 'Users and domains per node under the committed placement (the dashboard’s placement page)',
    response: PlacementSummary,
    handler: ({ hub }) => {
      const a = hub.active();
      const rules = a.placement.current;
      const per = new Map(a.placement.snapshot.nodes.map((n) => [n.id, { id: n.id, state: n.state, users: 0, domains: new Set<string>() }]));
      let unplaced = 0;
      // Paged through the directory, PAGE_MAX at a time: the same owner rule every member evaluates.
      let cursor: string | undefined;
      do {
        const page = a.directory.listUsers({ limit: PAGE_MAX, ...(cursor ? { cursor } : {}) });
        for (const u of page.users) {
          const owner = rules.ownerWithEpoch(u.address)?.node;
          const n = owner === undefined ? undefined : per.get(owner);
          if (!n) {
            unplaced++;
            continue;
          }
          n.users++;
          n.domains.add(u.address.slice(u.address.lastIndexOf('@') + 1));
        }
        cursor = page.next ?? undefined;
      } while (cursor);
      return { version: rules.version, nodes: [...per.values()].map((n) => ({ ...n, domains: [...n.domains].sort() })), unplaced };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/placement/owner/{address}',
    auth: 'admin',
    tag: 'placement',
    summary: 'Which node owns a mailbox, and the epoch it opens it with',
    params: AddressParam,
    response: OwnerAnswer,
    handler: ({ hub, params }) => {
      const rules = hub.active().placement.current;
      const o = rules.ownerWithEpoch(params.address);
      return { address: params.address, mailbox: rules.canonical(params.address), node: o?.node ?? null, epoch: o?.epoch ?? null, version: rules.version };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/placement/move',
    auth: 'admin',
    tag: 'placement',
    summary: 'Move one mailbox to a node (an override; node null: back to the ring). Answers once committed',
    body: MoveUser,
    response: PlacementChangeAnswer,
    handler: async ({ hub, body }) => ({ version: await hub.active().placement.moveUser(body.address, body.node) }),
  }),
  route({
    method: 'POST',
    path: '/v1/placement/drain',
    auth: 'admin',
    tag: 'placement',
    summary: 'Take a node off the ring: its mailboxes move to the others. Answers once committed',
    body: NodeAction,
    response: PlacementChangeAnswer,
    handler: async ({ hub, body }) => ({ version: await hub.active().placement.drain(body.node) }),
  }),
  route({
    method: 'POST',
    path: '/v1/placement/undrain',
    auth: 'admin',
    tag: 'placement',
    summary: 'Put a drained node back on the ring (it takes its share again)',
    body: NodeAction,
    response: PlacementChangeAnswer,
    handler: async ({ hub, body }) => {
      const a = hub.active();
      return { version: await a.placement.undrain(body.node, a.members.isLive(body.node)) };
    },
  }),

  // ---- members
  route({
    method: 'GET',
    path: '/v1/members',
    auth: 'admin',
    tag: 'members',
    summary: 'Members and their health: role, site, version, live or dead, heartbeat age, applied placement/settings versions',
    response: MemberList,
    handler: ({ hub }) => ({ members: memberList(hub) }),
  }),
  route({
    method: 'GET',
    path: '/v1/queues',
    auth: 'admin',
    tag: 'members',
    summary: 'Queue folders of gone gateways and the live gateways they were given to, at which epoch, and whether claimed',
    response: QueueTakeoverList,
    handler: ({ hub }) => ({
      graceSeconds: (hub.o.queueTakeoverMs ?? 0) / 1000,
      takeovers: hub
        .active()
        .queues.list()
        .map((t) => ({ ...t, assignedAt: new Date(t.assignedAt).toISOString() })),
    }),
  }),
  route({
    method: 'DELETE',
    path: '/v1/members/{id}',
    auth: 'admin',
    tag: 'members',
    summary: 'Forget a dead member',
    params: z.strictObject({ id: memberId }),
    response: NoContent,
    handler: ({ hub, params }) => {
      hub.active().members.forget(params.id);
      return ok;
    },
  }),

  // ---- settings
  route({
    method: 'GET',
    path: '/v1/settings',
    auth: 'admin',
    tag: 'settings',
    summary: 'The current settings (private keys redacted) and the version each member applied',
    response: SettingsView,
    handler: ({ hub }) => {
      const a = hub.active();
      const cur = a.settings.current();
      const applied: Record<string, number> = {};
      for (const m of a.members.all()) if (m.applied) applied[m.record.id] = m.applied.settings;
      return { version: cur.version, settings: redactSettings(cur.settings), applied };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/settings/validate',
    auth: 'admin',
    readOnlySafe: true,
    tag: 'settings',
    summary: 'Check a settings document without applying it',
    body: SettingsCheck,
    response: SettingsValidation,
    handler: ({ hub, body }) => {
      const v = hub.active().settings.validate(body.settings);
      return { ok: v.ok, problems: v.problems };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/settings/diff',
    auth: 'admin',
    readOnlySafe: true,
    tag: 'settings',
    summary: 'What applying a settings document would change',
    body: SettingsCheck,
    response: SettingsDiff,
    handler: ({ hub, body }) => hub.active().settings.diff(body.settings),
  }),
  route({
    method: 'PUT',
    path: '/v1/settings',
    auth: 'admin',
    tag: 'settings',
    summary: 'Apply a settings document as the next version; members apply it live',
    body: SettingsApply,
    response: z.strictObject({ version: z.number().int() }),
    handler: ({ hub, body }) => ({ version: hub.active().settings.apply(body.settings, body.baseVersion).version }),
  }),

  // ---- dashboard
  route({
    method: 'GET',
    path: '/v1/events',
    auth: 'admin',
    tag: 'metrics',
    summary: 'Timeline of cluster events (members joining and dying, hub active/standby), newest first; kept on the hub storage, so it survives a takeover',
    response: ActivityList,
    handler: ({ hub }) => {
      hub.active();
      return { events: hub.activity.timeline() };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/events/stream',
    auth: 'admin',
    tag: 'metrics',
    summary: `Server-Sent Events: \`timeline\` (the timeline now), then an \`activity\` event for each new cluster event, and a comment every ${EVENT_STREAM_KEEPALIVE_MS / 1000} s; at most ${MAX_EVENT_STREAMS} streams per hub (503 beyond)`,
    responseType: 'text/event-stream',
    handler: ({ hub, req, res }) => {
      hub.active();
      const open = openStreams.get(hub) ?? 0;
      if (open >= MAX_EVENT_STREAMS) throw new HubError('unavailable', `this hub already serves ${MAX_EVENT_STREAMS} event streams; poll GET /v1/events instead`);
      openStreams.set(hub, open + 1);
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
      // One JSON line per data field (HTML Living Standard §9.2.6: a newline would split it).
      const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      send('timeline', { events: hub.activity.timeline() });
      const unsubscribe = hub.activity.subscribe((e) => send('activity', e));
      // Comments keep proxies and load balancers from timing the stream out.
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), EVENT_STREAM_KEEPALIVE_MS);
      keepAlive.unref();
      const done = () => {
        clearInterval(keepAlive);
        unsubscribe();
        openStreams.set(hub, (openStreams.get(hub) ?? 1) - 1);
      };
      req.socket.once('close', done);
      return undefined;
    },
  }),
  route({
    method: 'GET',
    path: '/v1/metrics/history',
    auth: 'admin',
    tag: 'metrics',
    summary: 'The last hour of the gauges each member sends with its heartbeats (one sample per 5 s), for the dashboard charts',
    query: HistoryQuery,
    response: StatsHistory,
    handler: ({ hub, query }) => {
      hub.active();
      return { windowMs: HISTORY_WINDOW_MS, sampleMs: HISTORY_SAMPLE_MS, members: hub.activity.history(query.since ?? 0) };
    },
  }),

  // ---- metrics
  route({
    method: 'GET',
    path: '/v1/metrics/summary',
    auth: 'admin',
    tag: 'metrics',
    summary: 'Cluster figures: members, nodes by state, domains, users, versions, failovers, oldest heartbeat',
    response: MetricsSummary,
    handler: ({ hub }) => {
      const a = hub.active();
      const members = memberList(hub);
      const nodes = a.placement.snapshot.nodes;
      const ages = members.filter((m) => m.state === 'live' && m.heartbeatAgeMs !== null).map((m) => m.heartbeatAgeMs!);
      const counts = a.directory.counts();
      return {
        hub: { id: hub.o.memberId, active: hub.isActive, epoch: hub.info().epoch, activeUrl: hub.activeUrl ?? null },
        members: { total: members.length, live: members.filter((m) => m.state === 'live').length, dead: members.filter((m) => m.state === 'dead').length },
        nodes: { active: nodes.filter((n) => n.state === 'active').length, drained: nodes.filter((n) => n.state === 'drained').length, dead: nodes.filter((n) => n.state === 'dead').length },
        domains: counts.domains,
        users: counts.users,
        placementVersion: a.placement.snapshot.version,
        settingsVersion: a.settings.current().version,
        failovers: a.members.failovers,
        maxHeartbeatAgeMs: ages.length ? Math.max(...ages) : null,
      };
    },
  }),
];

function checkNodes(p: { mode: string; nodes?: string[] }, known: string[]): void {
  if (p.mode !== 'pinned') return;
  p.nodes!.forEach((n, i) => {
    if (!known.includes(n)) throw new HubError('bad_request', `body.placement.nodes[${i}]: node ${n} is not known`, [{ path: `body.placement.nodes[${i}]`, message: `node ${n} has never registered` }]);
  });
}

function memberList(hub: import('../hub').Hub): z.output<typeof Member>[] {
  const a = hub.active();
  const nodes = new Map(a.placement.snapshot.nodes.map((n) => [n.id, n.state]));
  return a.members
    .all()
    .map(({ record: r, heartbeatAgeMs, applied, stats, deathReason }) => ({
      id: r.id,
      role: r.role,
      site: r.site,
      version: r.version,
      advertise: r.advertise,
      ports: r.ports,
      state: r.dead ? ('dead' as const) : ('live' as const),
      deathReason,
      nodeState: r.role === 'node' ? (nodes.get(r.id) ?? null) : null,
      incarnation: r.incarnation,
      heartbeatAgeMs,
      streamConnected: hub.streams.has(r.id),
      applied,
      stats,
      upSince: r.dead || hub.activity.since(r.id) === null ? null : new Date(hub.activity.since(r.id)!).toISOString(),
    }))
    .sort((x, y) => (x.id < y.id ? -1 : 1));
}
