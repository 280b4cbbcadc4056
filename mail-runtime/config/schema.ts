import { z } from 'zod';
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
  /** File holding the cluster token members use to talk to the hub. */
  clusterTokenFile: z.string().min(1).optional(),
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
   * Seconds a client may stay silent while we wait for its next command or
   * data; then 421 4.4.2 and the connection is closed. RFC 5321 §4.5.3.2.7
   * asks a server to wait at least 5 minutes.
   */
  idleTimeoutSeconds: z.number().int().min(1).max(3600).default(300),
}).prefault({});

/** The gateway's durable queue (`<storage.path>/queue/<memberId>/`) and its delivery workers. */
const Queue = strict({
  /**
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
    clamd: strict({ address: hostPort, onError: z.enum(['tempfail', 'accept']).default('tempfail') }).optional(),
    spam: SpamFilter.optional(),
    dkim: strict({ selector: dnsLabel, keyFile: z.string().min(1) }).optional(),
  }).prefault({}),
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

const ProxyConfig = strict({
  role: z.literal('proxy'),
  ...common,
  listen: proxyListen,
});

const hubFields = {
  /** File with the admin API bearer token (a mounted secret). */
  adminTokenFile: z.string().min(1).optional(),
  /** Seconds between member heartbeats; leases last `leaseHeartbeats` of them. */
  heartbeatSeconds: z.number().int().min(1).max(300).default(5),
  leaseHeartbeats: z.number().int().min(2).max(100).default(3),
};

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

export const RuntimeConfig = z.discriminatedUnion('role', [NodeConfig, GatewayConfig, ProxyConfig, HubConfig, AllConfig]);
export type RuntimeConfig = z.output<typeof RuntimeConfig>;
export type RuntimeConfigInput = z.input<typeof RuntimeConfig>;
export type RuntimeConfigOf<R extends RuntimeRole> = Extract<RuntimeConfig, { role: R }>;
