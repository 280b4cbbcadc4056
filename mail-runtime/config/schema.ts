import { isIP } from 'node:net';
import { z } from 'zod';
import { FailoverControllerFields } from './power';
import { dnsLabel, domainName, hostPort, ipv4Cidr, port, strict } from './validation';

/**
 * RuntimeConfig: what one role process reads. Components render it from the
 * ClusterSpec (components/render.ts), the local launcher writes it to files,
 * containers pass it as MAILFLEET_* variables. Secrets are never inline: they
 * are files (mounted platform secrets) named here.
 */


/**
 * Most hubs a member knows (`hubUrls`): one is active, the others are
 * standbys a member tries in turn, so a longer list only slows the search
 * for the active one. The topology spec caps `hubs.count` at this.
 */
export const MAX_HUB_URLS = 16;
/** Default lifetime of a hub-signed member certificate (`memberCertificateSeconds`): a day. */
export const DEFAULT_MEMBER_CERTIFICATE_SECONDS = 86_400;

export const RUNTIME_ROLES = ['hub', 'node', 'gateway', 'proxy', 'all', 'failover-controller'] as const;
export type RuntimeRole = (typeof RUNTIME_ROLES)[number];

export const Listen = strict({
  host: z.string().min(1).default('0.0.0.0'),
  /** 0 lets the OS choose (tests, ad-hoc runs); the ready line reports the bound port. */
  port: z.number().int().min(0, 'a port is 0–65535 (0: any free port)').max(65535, 'a port is 0–65535 (0: any free port)'),
});
export type Listen = z.infer<typeof Listen>;

export const TlsFiles = strict({
  certFile: z.string().min(1),
  keyFile: z.string().min(1),
  /**
   * When both files are absent, generate a self-signed certificate and write
   * it there (the embedded local cluster, a member run by hand). Off by
   * default: on a deployed platform a missing certificate is a broken secret
   * mount, which must stop the member rather than be papered over.
   */
  generateIfMissing: z.boolean().default(false),
});
export type TlsFiles = z.infer<typeof TlsFiles>;

const MiB = 1024 * 1024;
/** Above this an IMAP literal is refused unless maxMessageBytes is larger (see imapLiteralBytes). */
const IMAP_LITERAL_FLOOR = 64 * MiB;

/** An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`, `fd00::/8`); a single address is `/32` or `/128`. */
const ipCidr = z.string().refine((s) => {
  const [ip, bits, ...rest] = s.split('/');
  const family = isIP(ip ?? '');
  if (!family || bits === undefined || rest.length || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}, 'must be a network in CIDR notation, e.g. 127.0.0.0/8 or ::1/128');

/**
 * The limits an operator may set for a whole cluster in the topology spec
 * (components/spec.ts `limits`), as validators without defaults: the spec
 * and RuntimeConfig check them alike, and RuntimeLimits below gives each
 * its one default (and says what it is for).
 */
const CLIENT_LIMITS = {
  maxConnections: z.number().int().min(1),
  maxConnectionsPerAddress: z.number().int().min(1),
  perAddressExempt: z.array(ipCidr),
  loginTimeoutSeconds: z.number().int().min(1).max(3600),
  tlsHandshakeSeconds: z.number().int().min(1).max(600),
  loginFailuresPerConnection: z.number().int().min(1).max(100),
  loginFailuresPerAddress: z.number().int().min(1).max(1000),
  loginFailuresPerUserAddress: z.number().int().min(1).max(1000),
  loginFailuresPerUser: z.number().int().min(1).max(1000),
  loginFailureWindowSeconds: z.number().int().min(60).max(86_400),
  loginUserDelayMaxMs: z.number().int().min(0).max(30_000),
  // One message for both forms (a union would be reported as one of its branches).
  passwordCheckWorkers: z.custom<'auto' | number>(
    (v) => v === 'auto' || (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 64),
    'must be auto or a whole number of workers, 1–64',
  ),
  passwordCheckQueueMs: z.number().int().min(100).max(60_000),
  credentialCacheSeconds: z.number().int().min(0).max(3600),
};

/**
 * Limits of one member process. Each default is decided here and nowhere
 * else; the runtime receives the parsed values (node: IMAP and POP3 servers,
 * the store, the connection limits in net/, the authenticator in auth/).
 * Protocol constants that are not configurable live in
 * mail-runtime/common/limits.ts. README.md "Limits" explains them for
 * operators.
 */
export const RuntimeLimits = strict({
  /**
   * Largest message accepted anywhere: IMAP APPEND (above it `NO [TOOBIG]`,
   * RFC 4469 §4 / RFC 7889), the store, later SMTP SIZE (RFC 1870). 50 MiB
   * holds the attachments mail providers accept (their caps are 25–50 MiB
   * before transfer encoding).
   */
  maxMessageBytes: z.number().int().min(1024).default(50 * MiB),
  /**
   * Client connections this member serves at once, over all its client
   * listeners (IMAP, IMAPS, POP3, POP3S). One more is greeted with a refusal
   * and closed: IMAP `* BYE [UNAVAILABLE]` (RFC 3501 §7.1.5, RFC 5530), POP3
   * `-ERR [SYS/TEMP]` (RFC 3206 §4), so a connection flood cannot exhaust
   * file descriptors or memory. 5000 leaves about 400 KiB per session in a
   * node's 2 GiB memory floor (policies/rules/resource-floors.ts).
   */
  maxConnections: CLIENT_LIMITS.maxConnections.default(5000),
  /**
   * Largest IMAP literal, and largest sum of literals in one command, after
   * login (before login the session allows a few KiB of credentials at most).
   * Above it `NO [TOOBIG]` (RFC 4469 §4), or BYE for a non-synchronising
   * literal (RFC 7888 §4). Default: 64 MiB, or maxMessageBytes when that is
   * larger, because an APPEND carries the whole message as one literal.
   */
  imapLiteralBytes: z.number().int().min(1024).optional(),
  /**
   * Messages in one IMAP MULTIAPPEND command (RFC 3502). The RFC sets no
   * bound, but the batch is appended atomically (all or none, one group
   * commit), so its files sit in tmp/ and its quota stays reserved until the
   * last message has arrived: one more is refused with `NO [LIMIT]` (RFC
   * 5530) before its literal is sent. The bytes of all the messages together
   * are bounded by imapLiteralBytes (the sum of literals in one command).
   * 1000 covers a client uploading a folder in batches (Thunderbird and
   * imapsync send at most a few hundred per command).
   */
  imapAppendMessages: z.number().int().min(1).max(100_000).default(1000),
  /**
   * Connections from one client address at once (an IPv6 client counts by
   * its /64: one subscriber gets at least that much), logged in or not,
   * over all client listeners; one more gets the same refusal as above. 100
   * serves a household or an office behind one NAT address (mail clients
   * open up to 5 connections per account) while one address can hold at
   * most 2 % of maxConnections: it takes 50 addresses to fill them.
   */
  maxConnectionsPerAddress: CLIENT_LIMITS.maxConnectionsPerAddress.default(100),
  /**
   * Networks whose connections are not counted per address (they still
   * count towards maxConnections). Loopback by default: those peers are
   * this host's own processes (the local cluster's proxy and gateway, an
   * operator's tools, tests), which are as trusted as the member itself,
   * and a loopback source address cannot arrive from the network (Linux
   * drops it as martian). Put the proxies' networks here once nodes sit
   * behind them, or a NAT you know; `[]` counts everyone.
   */
  perAddressExempt: CLIENT_LIMITS.perAddressExempt.default(['127.0.0.0/8', '::1/128']),
  /**
   * Seconds from accepting a connection until it must have logged in; then
   * IMAP `* BYE` / POP3 `-ERR` and close. Nothing a client sends extends it
   * (NOOP, CAPABILITY, ID, STARTTLS, failed logins): a connection that
   * never logs in holds its slot this long at most. After login the
   * protocol's own autologout applies (IMAP 30 minutes, RFC 3501 §5.4;
   * POP3 10 minutes, RFC 1939 §3). 30 s covers a TLS handshake, a few
   * round trips and a slowed-down login on a poor mobile link.
   */
  loginTimeoutSeconds: CLIENT_LIMITS.loginTimeoutSeconds.default(30),
  /**
   * Seconds an implicit-TLS connection (IMAPS, POP3S; RFC 8314 §3.3) has to
   * finish its handshake. Counted against the connection limits from the
   * moment the TCP connection is accepted, so stalled handshakes cannot
   * pile up. A handshake is a few round trips: 15 s covers the slowest links.
   */
  tlsHandshakeSeconds: CLIENT_LIMITS.tlsHandshakeSeconds.default(15),
  /**
   * Failed logins on one connection before it is closed (after the failure
   * reply: IMAP `* BYE`, POP3 `-ERR`). A client that knows the password
   * needs one try, one that mistyped two or three; more is guessing.
   */
  loginFailuresPerConnection: CLIENT_LIMITS.loginFailuresPerConnection.default(3),
  /**
   * Failed logins from one client address (IPv6: its /64), any users, in
   * loginFailureWindowSeconds, before logins from it are refused without
   * checking the password (IMAP `NO [UNAVAILABLE]`, POP3 `-ERR [LOGIN-DELAY]`,
   * RFC 2449 §8.1.1). A user with a recent successful login from that
   * address is not refused (a NAT shared with an attacker).
   */
  loginFailuresPerAddress: CLIENT_LIMITS.loginFailuresPerAddress.default(10),
  /**
   * Failed logins for one user from one address before that pair is slowed
   * down: each further failure doubles the time the pair must wait (from
   * 1 s up to a minute) before its next password check; earlier tries are
   * refused as above. Other addresses of the user are not affected.
   */
  loginFailuresPerUserAddress: CLIENT_LIMITS.loginFailuresPerUserAddress.default(3),
  /**
   * Failed logins for one user from all addresses before logins for that
   * user are slowed down from addresses it has not logged in from
   * recently: a wait before the password check, doubling from 250 ms up to
   * loginUserDelayMaxMs. Never a refusal: guesses spread over many
   * addresses must not lock the user out (NIST SP 800-63B §5.2.2 asks for
   * rate limiting that does not deny the legitimate user).
   */
  loginFailuresPerUser: CLIENT_LIMITS.loginFailuresPerUser.default(5),
  /** Failures older than this are forgotten by the three limits above (15 minutes). */
  loginFailureWindowSeconds: CLIENT_LIMITS.loginFailureWindowSeconds.default(900),
  /** Longest per-user slow-down (above): a few seconds on the right password, at worst. */
  loginUserDelayMaxMs: CLIENT_LIMITS.loginUserDelayMaxMs.default(4000),
  /**
   * The first wait of a (user, address) pair past loginFailuresPerUserAddress
   * (doubling with each further failure, never above a minute). 1 s lets a
   * person who mistyped try again at once; a larger value makes a guessing
   * pair wait a full minute from its first refused try.
   */
  loginPairDelayMs: z.number().int().min(100).max(60_000).default(1000),
  /**
   * Password hashes (scrypt, ~32 MiB and tens of ms each) computed at once.
   * `auto`: the machine's cores, at most two fewer than libuv's thread pool
   * (UV_THREADPOOL_SIZE, 4 by default) so file I/O always has threads.
   */
  passwordCheckWorkers: CLIENT_LIMITS.passwordCheckWorkers.default('auto'),
  /**
   * Longest wait for a free password-check worker; a login that would wait
   * longer fails at once with IMAP `NO [UNAVAILABLE]` / POP3 `-ERR
   * [SYS/TEMP]` (try again) instead of queueing. Logins from an address the
   * user logged in from recently go first (and, with two workers or more,
   * have one to themselves), then those of users and addresses without
   * recent failures.
   */
  passwordCheckQueueMs: CLIENT_LIMITS.passwordCheckQueueMs.default(2000),
  /**
   * How long a verified login (user and password) is remembered, so a
   * client's repeated logins do not pay the password hash again (as
   * Dovecot's auth cache). Only successes are kept, bound to the stored
   * hash they matched (a password change invalidates at once), in memory
   * only, keyed by an HMAC with a per-process random key. 0 disables.
   */
  credentialCacheSeconds: CLIENT_LIMITS.credentialCacheSeconds.default(60),
})
  .prefault({})
  .superRefine((l, ctx) => {
    if (l.imapLiteralBytes !== undefined && l.imapLiteralBytes < l.maxMessageBytes) {
      ctx.addIssue({
        code: 'custom',
        path: ['imapLiteralBytes'],
        message: `must be at least limits.maxMessageBytes (${l.maxMessageBytes}): an IMAP APPEND carries the whole message as one literal`,
      });
    }
  })
  .transform((l) => ({ ...l, imapLiteralBytes: l.imapLiteralBytes ?? Math.max(IMAP_LITERAL_FLOOR, l.maxMessageBytes) }));
export type RuntimeLimits = z.output<typeof RuntimeLimits>;

/**
 * `limits` of the topology spec: the client limits of every member, each
 * optional (absent: RuntimeLimits' default). components/render.ts copies
 * them into every member's RuntimeConfig.
 */
export const ClusterLimits = strict({
  maxConnections: CLIENT_LIMITS.maxConnections.optional(),
  maxConnectionsPerAddress: CLIENT_LIMITS.maxConnectionsPerAddress.optional(),
  perAddressExempt: CLIENT_LIMITS.perAddressExempt.optional(),
  loginTimeoutSeconds: CLIENT_LIMITS.loginTimeoutSeconds.optional(),
  tlsHandshakeSeconds: CLIENT_LIMITS.tlsHandshakeSeconds.optional(),
  loginFailuresPerConnection: CLIENT_LIMITS.loginFailuresPerConnection.optional(),
  loginFailuresPerAddress: CLIENT_LIMITS.loginFailuresPerAddress.optional(),
  loginFailuresPerUserAddress: CLIENT_LIMITS.loginFailuresPerUserAddress.optional(),
  loginFailuresPerUser: CLIENT_LIMITS.loginFailuresPerUser.optional(),
  loginFailureWindowSeconds: CLIENT_LIMITS.loginFailureWindowSeconds.optional(),
  loginUserDelayMaxMs: CLIENT_LIMITS.loginUserDelayMaxMs.optional(),
  passwordCheckWorkers: CLIENT_LIMITS.passwordCheckWorkers.optional(),
  passwordCheckQueueMs: CLIENT_LIMITS.passwordCheckQueueMs.optional(),
  credentialCacheSeconds: CLIENT_LIMITS.credentialCacheSeconds.optional(),
});
export type ClusterLimits = z.infer<typeof ClusterLimits>;

const common = {
  /** Unique in the cluster, e.g. `demo-node-0`. Also the heartbeat identity. */
  memberId: dnsLabel,
  cluster: dnsLabel,
  site: dnsLabel.default('main'),
  /** Host name or address other members reach this member on. */
  advertise: z.string().min(1).default('127.0.0.1'),
  /** `GET /healthz`, `/readyz`, `/metrics`. */
  management: Listen,
  /** Root of the shared storage (mail, hub state, queues). */
  storage: strict({ path: z.string().min(1) }),
  /** Base URL of the hub's API; members keep serving from cache while it is away. */
  hubUrl: z.url().optional(),
  /**
   * Every hub's URL (active and standby), tried in this order; a standby
   * answers `not active` with the active one's URL, which the member then
   * follows. Absent: `hubUrl` alone. When both are given `hubUrl` must be
   * one of these (it is then only the address the admin API is shown at).
   */
  hubUrls: z.array(z.url()).min(1).max(MAX_HUB_URLS).optional(),
  /** File holding the cluster token members use to talk to the hub. */
  clusterTokenFile: z.string().min(1).optional(),
  /**
   * The cluster-internal CA (mail-runtime/hub/ca): members trust `caFile`
   * for an https hub URL whatever the public TLS mode; `certFile`/`keyFile`
   * are this member's certificate from that CA, naming its internal names
   * (the hub serves its API with it). Without it an https hub URL is checked
   * against the system roots, and the hub serves plain HTTP (loopback only:
   * the local cluster).
   */
  clusterTls: strict({
    caFile: z.string().min(1),
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
  })
    .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), { path: ['keyFile'], message: 'certFile and keyFile go together' })
    .optional(),
  /** Certificate for client listeners; a self-signed one is generated when absent. */
  tls: TlsFiles.optional(),
  /** Public host name used in greetings and certificates. */
  hostname: z.string().min(1).default('localhost'),
  /** Where plaintext LOGIN/AUTH is accepted (RFC 3501 §6.2.3 LOGINDISABLED; RFC 2595). */
  plaintextAuth: z.enum(['never', 'loopback', 'always']).default('loopback'),
  limits: RuntimeLimits,
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

const nodeListen = strict({
  imap: Listen,
  imaps: Listen.optional(),
  pop3: Listen,
  pop3s: Listen.optional(),
  /**
   * RFC 2033 LMTP: gateways deliver here. Cluster-internal: LMTP has no
   * authentication, so this address must never be reachable from outside
   * the cluster (network policy admits only the gateways).
   */
  lmtp: Listen,
  /** RFC 6409 message submission (authenticated), with STARTTLS (RFC 3207). */
  submission: Listen.optional(),
  /** RFC 8314 §3.3 submission over implicit TLS (port 465). */
  smtps: Listen.optional(),
});

const NodeConfig = strict({
  role: z.literal('node'),
  ...common,
  listen: nodeListen,
  /** Until the hub serves the directory: a local users file (address, scrypt hash, quota). */
  directory: strict({ file: z.string().min(1) }).optional(),
  /**
   * A gateway's SMTP listener (`host:port`) that takes submitted mail for
   * recipients outside this node's mailboxes into its durable queue; the
   * node's address must be in that gateway's `relayNetworks`. Absent: such
   * recipients are refused at RCPT with 451 4.3.5.
   */
  gatewayRelay: hostPort.optional(),
  /**
   * Networks (CIDR) of the proxies in front of this node: their connections
   * to the client listeners (IMAP, IMAPS, POP3, POP3S, submission, SMTPS) start with a PROXY
   * protocol v2 header (HAProxy proxy-protocol.txt §2.2) naming the client,
   * and the node's per-address limits, login throttling and logs then see
   * that client instead of the proxy; a connection from these networks
   * without a valid header is closed. The proxies must set
   * `proxy.sendProxyProtocol`. Empty (default): nobody is asked for one.
   * LMTP (gateways) never carries one.
   */
  proxyProtocolFrom: z.array(ipCidr).default([]),
  /**
   * The IMAP `Shared/` namespace (RFC 2342 "shared namespace", the third part of the NAMESPACE response, §5): per hosted domain, the users
   * who administer its shared folders. They hold every right on every
   * folder under `Shared/` (RFC 4314 §2.1), create its top-level folders and
   * grant other users rights with SETACL. Empty (default): nobody creates
   * shared folders, so the namespace stays empty.
   */
  sharedFolders: strict({
    admins: z
      .record(domainName, z.array(z.string().trim().toLowerCase().regex(/^[^\s@]+@[^\s@]+$/, 'must be an address local@domain')).max(1000))
      .default({})
      .superRefine((admins, ctx) => {
        for (const [domain, users] of Object.entries(admins)) {
          users.forEach((u, i) => {
            if (!u.endsWith(`@${domain.toLowerCase()}`)) ctx.addIssue({ code: 'custom', path: [domain, i], message: `${u} is not an address of ${domain}: a domain's shared folders are administered by its own users` });
          });
        }
      }),
  }).prefault({}),
});

/**
 * How long one content filter may take at DATA before the chain answers for
 * it. At most 10 minutes: RFC 5321 §4.5.3.2.6 has the client wait that long
 * for the reply to the end of data, and all filters together must answer
 * within it.
 */
function filterTimeoutMs(byDefault: number) {
  return z.number().int().min(100, 'at least 100 ms').max(600_000, 'at most 600000 ms (RFC 5321 §4.5.3.2.6: the client waits 10 minutes for the reply to DATA)').default(byDefault);
}

/** Where a filter appliance listens: `host:port`, `[v6]:port`, or a unix socket `unix:/absolute/path`. */
const filterAddress = z
  .string()
  .refine(
    (s) => /^unix:\/\S+$/.test(s) || hostPort.safeParse(s).success,
    'must be host:port with a port 1–65535 (e.g. 10.0.0.5:3310), [v6]:port, or unix:/path/to/socket',
  );

/** clamd (INSTREAM over TCP or a unix socket). */
export const ClamdFilter = strict({
  address: filterAddress,
  onError: z.enum(['tempfail', 'accept']).default('tempfail'),
  timeoutMs: filterTimeoutMs(60_000),
  /** clamd's StreamMaxLength (its default is 25M): larger messages are passed unscanned instead of cut off. */
  streamMaxBytes: z.number().int().min(1024).default(25 * MiB),
});

/** A spam scanner. The topology spec uses the same shape, so its values pass through unchanged. */
export const SpamFilter = strict({
  kind: z.enum(['spamd', 'rspamd']),
  address: hostPort,
  /** Score at or above which inbound mail is rejected at DATA. */
  rejectScore: z.number().default(15),
  /** Score at or above which mail is delivered to Junk. */
  junkScore: z.number().default(5),
  /** Scanner unreachable: accept unscanned (default) or temp-fail so the sender retries. */
  onError: z.enum(['tempfail', 'accept']).default('accept'),
  /** How long a scan may take before onError decides (rspamd's own task_timeout is 8 s). */
  timeoutMs: filterTimeoutMs(30_000),
});

/** A DNS server: an IP address, optionally with a port (`127.0.0.1:5353`, `[::1]:53`), as node:dns setServers takes it. */
const dnsServer = z
  .string()
  .refine((s) => isIP(s) !== 0 || /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):\d{1,5}$/.test(s), 'must be an IP address, optionally with :port (for example 127.0.0.1:53 or [::1]:53)');

/** A DKIM key: the selector published in DNS (`<selector>._domainkey.<domain>`) and the PEM private key file (a mounted secret). */
const DkimKey = strict({ selector: dnsLabel, keyFile: z.string().min(1) });

/**
 * Mail leaving the cluster (mail-runtime/smtp/outbound): next hops, TLS
 * policy, retries, signing. Every field has its one default here.
 */
const Outbound = strict({
  /**
   * Static next hop per recipient domain (`example.net: 127.0.0.1:2526`),
   * ahead of `smarthost` and MX lookup, like Postfix's transport map. An
   * operator-chosen hop gets opportunistic TLS only: MTA-STS and DANE bind to
   * the MX host names DNS publishes (RFC 8461 §4.1, RFC 7672 §2.2).
   */
  routes: z.record(domainName, hostPort).default({}),
  /** Port MX hosts are reached on: 25, the SMTP port; a lab whose port 25 is blocked, or a test, changes it. */
  mxPort: port.default(25),
  /**
   * DNS servers for outbound lookups (MX, A/AAAA, MTA-STS TXT, TLSA); empty:
   * the system's (/etc/resolv.conf). DANE believes the AD bit only from these,
   * so point them at a validating resolver you trust (RFC 7672 §2.1: a local one).
   */
  resolvers: z.array(dnsServer).default([]),
  /** Connections to one destination (a recipient domain, a route or the smarthost) at once; Postfix's default_destination_concurrency_limit is 20. */
  maxConnectionsPerDestination: z.number().int().min(1).default(20),
  /** Outbound connections of this gateway in total. */
  maxConnections: z.number().int().min(1).default(100),
  /** RCPTs per transaction; RFC 5321 §4.5.3.1.8 makes servers take at least 100, more go in further transactions on the same connection. */
  maxRecipientsPerTransaction: z.number().int().min(1).max(1000).default(100),
  // Retries and expiry are the queue's (`queue`): one schedule for every delivery, LMTP and outbound.
  tls: strict({
    /** Honour the recipient domain's MTA-STS policy (RFC 8461). */
    mtaSts: z.boolean().default(true),
    /** Honour DNSSEC-validated TLSA records of the MX hosts (RFC 7672); needs a validating resolver in `resolvers`. */
    dane: z.boolean().default(true),
    /** Extra trust anchors (PEM) for certificate checks under MTA-STS and for fetching its policies, beside the public roots: a private CA. */
    caFile: z.string().min(1).optional(),
  }).prefault({}),
  /**
   * DKIM keys per sending domain (RFC 6376), used for mail our users submit
   * and for our DSNs; `filters.dkim` signs every hosted domain not listed
   * here. Keys come from the hub later.
   */
  dkim: z.record(domainName, DkimKey).default({}),
  /**
   * Sender Rewriting Scheme for forwarded mail, so SPF keeps passing at the
   * next hop: the envelope sender becomes `SRS0=hash=tt=domain=local@<domain>`.
   * `secretFile` holds one secret per line: the first signs, all verify (rotation).
   */
  srs: strict({
    domain: domainName,
    secretFile: z.string().min(1),
    /** Days a rewritten address stays valid for bounces (libsrs2 and postsrsd use 21). */
    maxAgeDays: z.number().int().min(1).max(1000).default(21),
  }).optional(),
  /** ARC sealing of forwarded mail (RFC 8617): the sealing domain, selector and PEM key file. */
  arc: strict({ domain: domainName, selector: dnsLabel, keyFile: z.string().min(1) }).optional(),
}).prefault({});

/** A node's LMTP endpoint (RFC 2033), where a gateway delivers a hosted mailbox's mail. */
export const LmtpEndpoint = strict({
  /** The node's member id: log lines and metrics name the node by it, as the hub's placement map will. */
  memberId: dnsLabel,
  host: z.string().min(1),
  port,
});

/**
 * Which node's LMTP gets a hosted mailbox's mail, until the hub serves its
 * placement map (issue 12 replaces this with the hub's answer; the gateway
 * asks through one seam, mail-runtime/smtp/routing/). Looked up again at
 * every delivery attempt, so a changed placement takes effect on retries.
 */
const Placement = strict({
  /**
   * The node for every mailbox `routes` does not name. Absent (and no route
   * matches): a hosted recipient is answered 451 4.3.0 at RCPT, so senders
   * retry until a node is configured; nothing is accepted that has nowhere to go.
   */
  default: LmtpEndpoint.optional(),
  /**
   * A domain (`example.com`) or one address (`alice@example.com`) → node;
   * the address entry wins over its domain's. Keys are compared lower-cased.
   */
  routes: z.record(z.string().min(1), LmtpEndpoint).default({}),
}).prefault({});

/** The inbound MX's own bounds (connections in total: limits.maxConnections; message size: limits.maxMessageBytes). */
const Inbound = strict({
  /**
   * Recipients of one message; one more is answered 452 4.5.3 and the
   * client sends the rest in another transaction (RFC 5321 §4.5.3.1.10).
   * RFC 5321 §4.5.3.1.8 requires accepting at least 100, hence the floor.
   */
  maxRecipients: z.number().int().min(100).max(100_000).default(100),
  /**
   * Messages accepted from one client address (an IPv6 client: its /64) per
   * minute; beyond it MAIL FROM is answered 450 4.7.1 until the minute has
   * passed, so one host cannot fill the queue. 600 (10 a second, sustained)
   * is far above what a legitimate MTA sends one domain from one address.
   */
  messagesPerAddressPerMinute: z.number().int().min(1).default(600),
  /**
   * Messages one cluster member (the name it logged in with) may relay per
   * minute on the relay listener (`listen.relay`); beyond it MAIL FROM is
   * answered 451 4.7.1 (RFC 3463: delivery not authorized, temporary) and
   * the node's client retries, so a compromised account on one node cannot
   * flood the outbound queue. 6000 (100 a second, sustained) is far above
   * what a node's users submit for outside.
   */
  relayMessagesPerMemberPerMinute: z.number().int().min(1).default(6000),
  /**
   * Seconds a client may stay silent while we wait for its next command or
   * data; then 421 4.4.2 and the connection is closed. RFC 5321 §4.5.3.2.7
   * asks a server to wait at least 5 minutes.
   */
  idleTimeoutSeconds: z.number().int().min(1).max(3600).default(300),
}).prefault({});

/** The gateway's durable queue (`<storage.path>/queue/<memberId>/`) and its delivery workers. */
const Queue = strict({
  /**
   * The one retry schedule of every delivery (LMTP to nodes and outbound).
   * First retry this long after a temporary failure (a 4xx, a node that does
   * not answer); each later retry waits twice as long as the one before, up
   * to retryMaxSeconds. Mail for a node that comes back is retried as soon
   * as a delivery to that node succeeds again.
   */
  retryFirstSeconds: z.number().int().min(1).default(60),
  /** Longest wait between two attempts. RFC 5321 §4.5.4.1 suggests at least 30 minutes between retries to a remote host; an hour keeps the five days to about a hundred attempts. */
  retryMaxSeconds: z.number().int().min(1).default(3600),
  /** Give up and bounce (DSN) the recipients still pending this long after the message was accepted. RFC 5321 §4.5.4.1: at least 4–5 days. */
  expireHours: z.number().min(0.001).max(24 * 30).default(120),
  /** Queue entries in delivery at once (each holds one LMTP or outbound transaction). */
  deliveryConcurrency: z.number().int().min(1).max(1024).default(16),
}).prefault({});

const gatewayFields = {
  /** RFC 1918 networks allowed to relay unauthenticated; empty = only authenticated submission relays. */
  relayNetworks: z.array(ipv4Cidr).default([]),
  /** Domains accepted as final destination (the hub pushes updates; this is the boot list). */
  hostedDomains: z.array(domainName).default([]),
  smarthost: hostPort.optional(),
  filters: strict({
    clamd: ClamdFilter.optional(),
    spam: SpamFilter.optional(),
    dkim: strict({ selector: dnsLabel, keyFile: z.string().min(1) }).optional(),
    /** SPF, DKIM, DMARC and ARC verification of inbound mail, with an Authentication-Results header. */
    authentication: strict({
      /** On by default: an MX that does not check DMARC delivers every spoof of a p=reject domain. */
      enabled: z.boolean().default(true),
      /** Author domains (and their subdomains) whose DMARC p=reject/quarantine is not enforced (mailing lists that break DKIM). */
      allowlist: z.array(domainName).default([]),
      /** DNS trouble past the timeout: temp-fail (the sender retries) or deliver unverified. */
      onError: z.enum(['tempfail', 'accept']).default('tempfail'),
      timeoutMs: filterTimeoutMs(30_000),
      /**
       * All DNS lookups of one message together (answers are cached, negative ones too): past it the
       * checks left say temperror (RFC 8601 §2.7) and the message goes on. At most 80 % of timeoutMs is
       * used, so a resolver that does not answer never turns into a 451 for every message.
       */
      lookupTimeoutMs: z.number().int().min(100).max(60_000).default(3_000),
    }).prefault({}),
    /** Milters (Sendmail milter protocol v6), run after the built-in filters in this order. */
    milters: z
      .array(
        strict({
          /** Names the milter in logs and replies. */
          name: dnsLabel,
          address: filterAddress,
          /** Milter down, late or broken: temp-fail (fail-closed, Postfix's default) or accept (fail-open). */
          onError: z.enum(['tempfail', 'accept']).default('tempfail'),
          timeoutMs: filterTimeoutMs(60_000),
        }),
      )
      .default([])
      .superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((m, i) => {
          if (seen.has(m.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `milter name "${m.name}" is used twice` });
          seen.add(m.name);
        });
      }),
  }).prefault({}),
  outbound: Outbound,
  /**
   * Until the hub serves the directory: the users file (the node's format:
   * addresses, aliases) recipients in hosted domains are checked against.
   * Absent: no hosted user exists, so every hosted recipient gets 550 5.1.1.
   */
  directory: strict({ file: z.string().min(1) }).optional(),
  placement: Placement,
  inbound: Inbound,
  queue: Queue,
};

const GatewayConfig = strict({
  role: z.literal('gateway'),
  ...common,
  listen: strict({
    smtp: Listen,
    /**
     * The submission-relay listener for cluster members only: a node relays
     * its users' mail for outside here (its `gatewayRelay`), logging in with
     * AUTH PLAIN and the cluster token (`clusterTokenFile`, required with
     * it); STARTTLS first unless `plaintextAuth` allows the peer. Mail for
     * other domains is relayed only after that login (or from
     * `relayNetworks`); the MX on `smtp` has no AUTH at all.
     */
    relay: Listen.optional(),
  }),
  /**
   * Load balancers (CIDR) in front of the MX that send a PROXY protocol v2
   * header (HAProxy's spec) naming the client: a connection from one of them
   * must start with it, and the client it names is the one limits, relay
   * checks, filters and logs see. A connection from anywhere else is taken
   * as it comes. Empty: nobody is trusted to name a client.
   */
  proxyProtocolFrom: z.array(ipCidr).default([]),
  ...gatewayFields,
});

const proxyListen = strict({
  imap: Listen,
  imaps: Listen.optional(),
  pop3: Listen,
  pop3s: Listen.optional(),
  submission: Listen,
  smtps: Listen.optional(),
});

/** The login-aware proxy's own bounds (mail-runtime/proxy); each default is decided here. */
const ProxyFields = strict({
  /** Connecting to the owner node and its answer to the replayed login, each within this long; beyond it the client gets NO [UNAVAILABLE] / -ERR [SYS/TEMP]. */
  backendTimeoutSeconds: z.number().min(0.1).max(600).default(10),
  /**
   * Start every connection to a node with a PROXY protocol v2 header
   * (HAProxy proxy-protocol.txt §2.2) naming the client's address, so the
   * node's per-address login limits and logs see the client, not the
   * proxy. The nodes must list the proxies in `proxyProtocolFrom` (a node
   * that does not expect the header reads it as a bad command). Off by default.
   */
  sendProxyProtocol: z.boolean().default(false),
}).prefault({});

const ProxyConfig = strict({
  role: z.literal('proxy'),
  ...common,
  listen: proxyListen,
  proxy: ProxyFields,
});

const hubFields = {
  /** File with the admin API bearer token (a mounted secret). */
  adminTokenFile: z.string().min(1).optional(),
  /** File with a read-only token: the admin API's GETs and read-only dashboard sessions (monitoring, help desk); it can change nothing. */
  readOnlyTokenFile: z.string().min(1).optional(),
  /**
   * Seconds between member heartbeats (each renews the member's lease). The
   * active hub tells every member this value when it registers, so it is set
   * here only.
   */
  heartbeatSeconds: z.number().min(0.1).max(60).default(1),
  /**
   * A member silent this long (no heartbeat over HTTP, none in its storage
   * heartbeat file) is declared dead and its mailboxes move to live nodes
   * with a new epoch. A member whose hub stream drops and whose ports refuse
   * connections is dead at once instead (DESIGN.md "Failure detection").
   */
  deadAfterSeconds: z.number().min(0.3).max(600).default(3),
  /**
   * A member's lease lasts `deadAfterSeconds - leaseMarginSeconds` from the
   * moment it sent the heartbeat that renewed it, so it has stopped serving
   * before the hub can reassign its mailboxes; the margin absorbs clock-rate
   * differences and the time a self-fencing member needs to close sessions.
   */
  leaseMarginSeconds: z.number().min(0.05).max(60).default(0.5),
  /** PEM key of the cluster CA (`clusterTls.caFile` is its certificate): the hub issues member certificates with it. */
  clusterCaKeyFile: z.string().min(1).optional(),
  /**
   * With `clusterCaKeyFile`: how long the certificate the hub signs for a
   * member's own key lasts (POST /v1/cluster/certificate). Members renew
   * after two thirds of it, so a day means a renewal every 16 hours and a
   * key that leaks is useless a day later; the role certificate the
   * deployment gave the member stays its fallback.
   */
  memberCertificateSeconds: z.number().int().min(10).max(397 * 86_400).default(DEFAULT_MEMBER_CERTIFICATE_SECONDS),
};

/** The lease must outlast one heartbeat interval, or a member would lapse between two answered heartbeats. */
function checkHubTiming(c: { heartbeatSeconds: number; deadAfterSeconds: number; leaseMarginSeconds: number }, ctx: z.RefinementCtx): void {
  const lease = c.deadAfterSeconds - c.leaseMarginSeconds;
  if (lease <= c.heartbeatSeconds) {
    ctx.addIssue({
      code: 'custom',
      path: ['deadAfterSeconds'],
      message: `must exceed heartbeatSeconds + leaseMarginSeconds (${c.heartbeatSeconds} + ${c.leaseMarginSeconds}): a member's lease (deadAfterSeconds − leaseMarginSeconds) must outlast one heartbeat interval`,
    });
  }
}

/** `hubUrl` and `hubUrls` together: the single URL must be one of the list. */
function checkHubUrls(c: { hubUrl?: string; hubUrls?: string[] }, ctx: z.RefinementCtx): void {
  if (c.hubUrl !== undefined && c.hubUrls !== undefined && !c.hubUrls.includes(c.hubUrl)) {
    ctx.addIssue({ code: 'custom', path: ['hubUrl'], message: `must be one of hubUrls (${c.hubUrls.join(', ')})` });
  }
}

const HubConfig = strict({
  role: z.literal('hub'),
  ...common,
  listen: strict({ http: Listen }),
  ...hubFields,
  /**
   * Seconds a gateway must stay dead before the hub gives the queue folders
   * it holds to a live gateway (epoch + 1, so the old one is fenced from
   * them; nothing queued is stranded). A gateway restarted within this time
   * keeps its folder; 30 s covers a supervisor's restart. 0: never.
   */
  gatewayQueueTakeoverSeconds: z.number().min(0).max(86_400).default(30),
});

/** A failover-pair site runs every role in one process. */
const AllConfig = strict({
  role: z.literal('all'),
  ...common,
  listen: strict({
    http: Listen,
    smtp: Listen,
    imap: Listen,
    imaps: Listen.optional(),
    pop3: Listen,
    pop3s: Listen.optional(),
    submission: Listen,
    smtps: Listen.optional(),
    lmtp: Listen,
  }),
  ...gatewayFields,
  ...hubFields,
  /**
   * The site lease this member holds on the shared storage
   * (`<storage.path>/failover/`, mail-runtime/failover/lease.ts): renewed
   * every quarter of this; a member that has not renewed within it, or sees
   * a higher epoch, stops serving. The failover controller waits this long
   * for a primary it cannot fence through its platform, so it bounds the
   * failover time of a lost site. 10 s, as the controller's `leaseTtlMs`.
   */
  leaseTtlMs: z.number().int().min(500).max(600_000).default(10_000),
  /** Present on the standby: probe the primary and take over. */
  failover: strict({
    standby: z.boolean(),
    peerUrl: z.url(),
    mode: z.enum(['automatic', 'manual']),
    probeIntervalSeconds: z.number().int().min(1),
    failureThreshold: z.number().int().min(1),
  }).optional(),
});

/**
 * The failover controller of a pair: probes the primary, takes the site
 * lease, fences the primary, starts the standby (mail-runtime/failover/).
 * It serves no mail: of the common fields it reads its identity, management
 * port, storage (the lease) and log level; the others keep the shape every
 * member shares (renderers read them from any member).
 */
const FailoverControllerConfig = strict({
  role: z.literal('failover-controller'),
  ...common,
  /** No client listeners: only the management port (its /metrics carry the probe counters). */
  listen: strict({}).prefault({}),
  ...FailoverControllerFields,
}).superRefine((c, ctx) => {
  // A failing round lasts up to probeTimeoutMs: a window shorter than the threshold's rounds could never confirm an outage.
  const need = c.failureThreshold * Math.max(c.probeIntervalMs, c.probeTimeoutMs);
  if (c.failureWindowMs <= need) {
    ctx.addIssue({ code: 'custom', path: ['failureWindowMs'], message: `must be more than failureThreshold × max(probeIntervalMs, probeTimeoutMs) = ${need} ms, or an outage is never confirmed` });
  }
});

export const RuntimeConfig = z.discriminatedUnion('role', [NodeConfig, GatewayConfig, ProxyConfig, HubConfig, AllConfig, FailoverControllerConfig]).superRefine((c, ctx) => {
  checkHubUrls(c, ctx);
  if (c.role === 'hub' || c.role === 'all') checkHubTiming(c, ctx);
});
export type RuntimeConfig = z.output<typeof RuntimeConfig>;
export type RuntimeConfigInput = z.input<typeof RuntimeConfig>;
export type RuntimeConfigOf<R extends RuntimeRole> = Extract<RuntimeConfig, { role: R }>;
