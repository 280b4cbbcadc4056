import { z } from 'zod';
import { ipv4, port, strict } from '../../mail-runtime/config';

/**
 * Typed, validated input of the HAProxy renderer. Everything that reaches the
 * generated text passes through these schemas, so nothing a caller writes can
 * break the config syntax (no whitespace, quotes or newlines in names,
 * addresses or paths) and the cross-references (frontend → backend, resolvers)
 * are checked before rendering.
 */

/** HAProxy proxy and server names: letters, digits, '-', '_', '.', ':' (HAProxy configuration manual §4). */
export const haproxyName = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1–64 characters of A–Z, a–z, 0–9, "-", "_", "." or ":"');

/** A host name (RFC 1123 §2.1 labels; Docker container names may carry "_") or an IPv4 address. */
export const serverAddress = z
  .string()
  .regex(
    /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*$/,
    'must be a host name or an IPv4 address (IPv6 is not supported here)',
  );

/** An absolute path with no whitespace (it is written unquoted). */
export const absolutePath = z.string().regex(/^\/[^\s"'#\\]*$/, 'must be an absolute path without spaces, quotes or "#"');

/** Seconds → what HAProxy reads (`5s`, `31m`, `2h`). */
export const seconds = z.number().int().min(1).max(7 * 24 * 3600);

/**
 * RFC 2177 §3: a client re-issues IDLE at least every 29 minutes because a
 * server may log it out after 30 minutes of inactivity (RFC 3501 §5.4). An
 * idle IMAP session therefore sends nothing for up to 29 minutes: the proxy's
 * client and server timeouts must exceed that or HAProxy cuts live sessions.
 */
export const MIN_IDLE_TIMEOUT_SECONDS = 30 * 60;

export const HealthCheck = z.discriminatedUnion('kind', [
  strict({
    /** HTTP GET on the member's management port: /readyz is 200 only when the role is serving. */
    kind: z.literal('http'),
    /** Port of the check when a server does not name its own `checkPort`. */
    port: port.default(9090),
    path: z.string().regex(/^\/[A-Za-z0-9._~/-]*$/, 'must be an absolute URL path such as /readyz').default('/readyz'),
    expectStatus: z.number().int().min(100).max(599).default(200),
  }),
  strict({
    /** TCP connect to the service port (or `checkPort`): alive, not necessarily ready. */
    kind: z.literal('tcp'),
  }),
]);
export type HealthCheck = z.output<typeof HealthCheck>;

export const Server = strict({
  name: haproxyName,
  address: serverAddress,
  port,
  /** Port the health check goes to; the backend's check port (http) or the service port (tcp) when absent. */
  checkPort: port.optional(),
});
export type Server = z.output<typeof Server>;

export const Backend = strict({
  name: haproxyName,
  /**
   * `leastconn` by default: IMAP sessions live for hours (IDLE), so counting
   * open connections spreads load far better than round robin.
   */
  balance: z.enum(['leastconn', 'roundrobin', 'source', 'first']).default('leastconn'),
  healthCheck: HealthCheck.default({ kind: 'http', port: 9090, path: '/readyz', expectStatus: 200 }),
  /**
   * Prepend a PROXY protocol v2 header so the member sees the client address.
   * Off by default: the member must be configured to expect it, or every
   * session breaks. Health checks on a separate port never carry it.
   */
  sendProxyV2: z.boolean().default(false),
  servers: z.array(Server).min(1, 'a backend needs at least one server'),
});
export type Backend = z.output<typeof Backend>;

export const Frontend = strict({
  name: haproxyName,
  /** Port HAProxy listens on. */
  port,
  /** Bind address for this frontend; the config's `listenAddress` when absent. */
  address: ipv4.optional(),
  /** Name of the backend the connections go to. */
  backend: haproxyName,
  /** Per-frontend connection cap; the global maxconn otherwise. */
  maxconn: z.number().int().min(1).optional(),
});
export type Frontend = z.output<typeof Frontend>;

export const Resolvers = strict({
  name: haproxyName,
  /** DNS servers, e.g. Docker's embedded one at 127.0.0.11:53. */
  nameservers: z.array(strict({ address: ipv4, port: port.default(53) })).min(1),
  /** How long a resolved address is kept when DNS stops answering. */
  holdValidSeconds: seconds.default(10),
});

export const StatsSocket = strict({
  path: absolutePath.default('/run/haproxy/admin.sock'),
  /** Octal file mode. */
  mode: z.string().regex(/^[0-7]{3,4}$/, 'must be an octal mode such as 660').default('660'),
  /** `admin` also passes the listening sockets on for seamless reloads (`expose-fd listeners`). */
  level: z.enum(['user', 'operator', 'admin']).default('admin'),
});

export const Timeouts = strict({
  connectSeconds: seconds.default(5),
  /** Client inactivity; see MIN_IDLE_TIMEOUT_SECONDS. Default 31 minutes. */
  clientSeconds: seconds.min(MIN_IDLE_TIMEOUT_SECONDS, 'must be at least 1800 (30 min): IMAP IDLE sessions are silent for up to 29 minutes (RFC 2177 §3)').default(31 * 60),
  /** Server inactivity; same reasoning as clientSeconds. */
  serverSeconds: seconds.min(MIN_IDLE_TIMEOUT_SECONDS, 'must be at least 1800 (30 min): IMAP IDLE sessions are silent for up to 29 minutes (RFC 2177 §3)').default(31 * 60),
  checkSeconds: seconds.default(5),
  /** How long a connection waits for a free server slot. */
  queueSeconds: seconds.default(30),
}).prefault({});

export const HaproxyConfig = strict({
  /** Default bind address of the frontends. */
  listenAddress: ipv4.default('0.0.0.0'),
  /** Process-wide connection cap. */
  maxconn: z.number().int().min(1).max(1_000_000).default(20_000),
  /** `stdout` (containers, journald) or `syslog` (the local /dev/log socket). */
  log: z.enum(['stdout', 'syslog']).default('stdout'),
  statsSocket: StatsSocket.prefault({}),
  /** Drop privileges to this user/group (HAProxy started as root, e.g. the Debian unit); omit when already unprivileged (the haproxy image). */
  runAs: strict({ user: haproxyName, group: haproxyName }).optional(),
  /** Resolve server names at run time (Docker's DNS), so a restarted member with a new address is found again. */
  resolvers: Resolvers.optional(),
  timeouts: Timeouts,
  /** Health check rhythm: every `interSeconds`, down after `fall` failures, up after `rise` successes. */
  checks: strict({
    interSeconds: seconds.default(5),
    fall: z.number().int().min(1).max(100).default(3),
    rise: z.number().int().min(1).max(100).default(2),
  }).prefault({}),
  frontends: z.array(Frontend).min(1, 'at least one frontend'),
  backends: z.array(Backend).min(1, 'at least one backend'),
}).superRefine((cfg, ctx) => {
  // Frontends and backends share one namespace of proxy names in HAProxy.
  const names = new Map<string, string>();
  cfg.frontends.forEach((f, i) => {
    if (names.has(f.name)) ctx.addIssue({ code: 'custom', path: ['frontends', i, 'name'], message: `"${f.name}" is already used by ${names.get(f.name)}` });
    names.set(f.name, `frontends[${i}]`);
  });
  cfg.backends.forEach((b, i) => {
    if (names.has(b.name)) ctx.addIssue({ code: 'custom', path: ['backends', i, 'name'], message: `"${b.name}" is already used by ${names.get(b.name)}` });
    names.set(b.name, `backends[${i}]`);
    const servers = new Set<string>();
    b.servers.forEach((s, j) => {
      if (servers.has(s.name)) ctx.addIssue({ code: 'custom', path: ['backends', i, 'servers', j, 'name'], message: `server "${s.name}" appears twice in backend "${b.name}"` });
      servers.add(s.name);
    });
  });
  const backendNames = new Set(cfg.backends.map((b) => b.name));
  const binds = new Map<string, number>();
  cfg.frontends.forEach((f, i) => {
    if (!backendNames.has(f.backend)) {
      ctx.addIssue({ code: 'custom', path: ['frontends', i, 'backend'], message: `no backend named "${f.backend}"; defined: ${[...backendNames].join(', ')}` });
    }
    const bind = `${f.address ?? cfg.listenAddress}:${f.port}`;
    if (binds.has(bind)) ctx.addIssue({ code: 'custom', path: ['frontends', i, 'port'], message: `${bind} is already bound by frontends[${binds.get(bind)}]` });
    binds.set(bind, i);
  });
});
export type HaproxyConfig = z.output<typeof HaproxyConfig>;
export type HaproxyConfigInput = z.input<typeof HaproxyConfig>;
