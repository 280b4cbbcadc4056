import { z } from 'zod';
import { isIP } from 'node:net';
import { dnsLabel, domainName, hostPort, ipv4Cidr, port, strict } from './validation';

/**
 * RuntimeConfig: what one role process reads. Components render it from the
 * ClusterSpec (components/render.ts), the local launcher writes it to files,
 * containers pass it as MAILFLEET_* variables. Secrets are never inline: they
 * are files (mounted platform secrets) named here.
 */

export const RUNTIME_ROLES = ['hub', 'node', 'gateway', 'proxy', 'all'] as const;
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

/**
 * Limits of one member process. Each default is decided here and nowhere
 * else; the runtime receives the parsed values (node: IMAP and POP3 servers,
 * the store). Protocol constants that are not configurable live in
 * mail-runtime/common/limits.ts.
 */
const Limits = strict({
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
  maxConnections: z.number().int().min(1).default(5000),
  /**
   * Largest IMAP literal, and largest sum of literals in one command, after
   * login (before login the session allows a few KiB of credentials at most).
   * Above it `NO [TOOBIG]` (RFC 4469 §4), or BYE for a non-synchronising
   * literal (RFC 7888 §4). Default: 64 MiB, or maxMessageBytes when that is
   * larger, because an APPEND carries the whole message as one literal.
   */
  imapLiteralBytes: z.number().int().min(1024).optional(),
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
  hubUrls: z.array(z.url()).min(1).max(16).optional(),
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
  limits: Limits,
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

const nodeListen = strict({
  imap: Listen,
  imaps: Listen.optional(),
  pop3: Listen,
  pop3s: Listen.optional(),
  /** RFC 2033 LMTP: gateways deliver here. */
  lmtp: Listen,
  /** RFC 6409 message submission (authenticated). */
  submission: Listen.optional(),
});

const NodeConfig = strict({
  role: z.literal('node'),
  ...common,
  listen: nodeListen,
  /** Until the hub serves the directory: a local users file (address, scrypt hash, quota). */
  directory: strict({ file: z.string().min(1) }).optional(),
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
  /**
   * Retries of deferred recipients: exponential from `firstDelaySeconds`
   * (×`factor` per attempt) up to `maxDelaySeconds`; after
   * `expireAfterSeconds` the entry bounces. RFC 5321 §4.5.4.1: retry at least
   * 30 minutes apart once settled, give up after at least 4–5 days.
   */
  retry: strict({
    firstDelaySeconds: z.number().int().min(1).default(60),
    maxDelaySeconds: z.number().int().min(1).default(4 * 3600),
    factor: z.number().min(1).max(10).default(2),
    expireAfterSeconds: z.number().int().min(60).default(5 * 86400),
  })
    .prefault({})
    .refine((r) => r.maxDelaySeconds >= r.firstDelaySeconds, { path: ['maxDelaySeconds'], message: 'must be at least firstDelaySeconds' }),
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

const gatewayFields = {
  /** RFC 1918 networks allowed to relay unauthenticated; empty = only authenticated submission relays. */
  relayNetworks: z.array(ipv4Cidr).default([]),
  /** Domains accepted as final destination (the hub pushes updates; this is the boot list). */
  hostedDomains: z.array(domainName).default([]),
  smarthost: hostPort.optional(),
  filters: strict({
    clamd: strict({ address: hostPort, onError: z.enum(['tempfail', 'accept']).default('tempfail') }).optional(),
    spam: SpamFilter.optional(),
    dkim: strict({ selector: dnsLabel, keyFile: z.string().min(1) }).optional(),
  }).prefault({}),
  outbound: Outbound,
};

const GatewayConfig = strict({
  role: z.literal('gateway'),
  ...common,
  listen: strict({ smtp: Listen }),
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
  /**
   * A client must have logged in this long after connecting, or it is told
   * BYE / -ERR and disconnected, whatever it sends meanwhile: a slow client
   * cannot hold a pre-auth slot by trickling bytes. RFC 3501 §5.4 only sets a
   * floor for authenticated sessions; before login nothing is at stake.
   */
  loginTimeoutSeconds: z.number().min(0.1).max(3600).default(60),
  /** Connecting to the owner node and its answer to the replayed login, each within this long; beyond it the client gets NO [UNAVAILABLE] / -ERR [SYS/TEMP]. */
  backendTimeoutSeconds: z.number().min(0.1).max(600).default(10),
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
  /** Present on the standby: probe the primary and take over. */
  failover: strict({
    standby: z.boolean(),
    peerUrl: z.url(),
    mode: z.enum(['automatic', 'manual']),
    probeIntervalSeconds: z.number().int().min(1),
    failureThreshold: z.number().int().min(1),
  }).optional(),
});

export const RuntimeConfig = z.discriminatedUnion('role', [NodeConfig, GatewayConfig, ProxyConfig, HubConfig, AllConfig]).superRefine((c, ctx) => {
  checkHubUrls(c, ctx);
  if (c.role === 'hub' || c.role === 'all') checkHubTiming(c, ctx);
});
export type RuntimeConfig = z.output<typeof RuntimeConfig>;
export type RuntimeConfigInput = z.input<typeof RuntimeConfig>;
export type RuntimeConfigOf<R extends RuntimeRole> = Extract<RuntimeConfig, { role: R }>;
