import { z } from 'zod';
import { dnsLabel, strict } from './validation';

/**
 * Where a failover site's member runs and how to power it on and off: the
 * failover controller fences the primary and starts the standby through
 * these (mail-runtime/failover/power/). Credentials are never inline, only
 * files (a mounted secret), like every other secret in RuntimeConfig; each
 * platform's least-privilege grant is documented at its adapter.
 */

/**
 * Longest one platform API call may take before the adapter gives up on it.
 * A fence that hangs blocks the failover, so a silent API counts as failed;
 * 10 s covers a slow API server or vCenter under load.
 */
const requestTimeoutMs = z.number().int().min(100).max(120_000).default(10_000);

/**
 * How long a power-off or power-on may take until the platform reports the
 * new state (pods gone, VM stopped). A fence is only a fence once it is
 * confirmed, so past this the operation fails instead of assuming success.
 */
const confirmTimeoutMs = z.number().int().min(100).max(600_000).default(60_000);

const httpsUrl = z.url().refine((u) => /^https?:\/\//.test(u), 'must be an http:// or https:// URL');

/** Kubernetes: scale the member's StatefulSet or Deployment through the API server's `scale` subresource. */
const KubernetesPower = strict({
  kind: z.literal('kubernetes'),
  /** The API server, e.g. `https://10.0.0.1:6443` (in a pod: `https://kubernetes.default.svc`). */
  apiServer: httpsUrl,
  namespace: dnsLabel,
  workload: strict({ kind: z.enum(['StatefulSet', 'Deployment']), name: z.string().min(1).max(253) }),
  /** Bearer token file (a service account token; in a pod /var/run/secrets/kubernetes.io/serviceaccount/token). */
  tokenFile: z.string().min(1),
  /** CA bundle of the API server (PEM); absent: the system's roots. */
  caFile: z.string().min(1).optional(),
  /** Replicas when powered on: a failover site runs exactly one all-roles member. */
  replicas: z.number().int().min(1).max(1).default(1),
  requestTimeoutMs,
  confirmTimeoutMs,
});

/** Docker: start and stop the member's container through the Engine API. */
const DockerPower = strict({
  kind: z.literal('docker'),
  /** `unix:///var/run/docker.sock`, or `https://host:2376` (with `tls`), or `http://host:2375` on a trusted link. */
  endpoint: z.string().refine((s) => /^unix:\/\/\/\S+$/.test(s) || /^https?:\/\/\S+$/.test(s), 'must be unix:///path/to/docker.sock or an http(s):// URL'),
  /** Container name or id. */
  container: z.string().min(1),
  /** Engine API version in the path; 1.41 is served by Docker 20.10 and every later engine. */
  apiVersion: z.string().regex(/^1\.\d{2}$/, 'must look like 1.41').default('1.41'),
  /** Seconds Docker waits after SIGTERM before SIGKILL when fencing; 0: kill at once (a fence, not a shutdown). */
  stopGraceSeconds: z.number().int().min(0).max(300).default(0),
  tls: strict({ caFile: z.string().min(1), certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
  requestTimeoutMs,
  confirmTimeoutMs,
});

/** Proxmox VE: VM power through the REST API with an API token. */
const ProxmoxPower = strict({
  kind: z.literal('proxmox'),
  /** e.g. `https://pve1.example.net:8006` (the API is under /api2/json). */
  endpoint: httpsUrl,
  /** Cluster node the VM runs on. */
  node: z.string().min(1),
  vmid: z.number().int().min(100).max(999_999_999),
  /** `user@realm!tokenname` (not secret). */
  tokenId: z.string().regex(/^[^@!\s]+@[^@!\s]+![A-Za-z][A-Za-z0-9._-]*$/, 'must be user@realm!tokenname'),
  /** File holding the token's secret (a UUID). */
  tokenSecretFile: z.string().min(1),
  caFile: z.string().min(1).optional(),
  /**
   * Seconds to let the guest shut down cleanly before the VM is stopped
   * hard; 0 (the default for fencing): stop at once.
   */
  shutdownSeconds: z.number().int().min(0).max(600).default(0),
  requestTimeoutMs,
  confirmTimeoutMs,
});

/** vSphere: VM power through the vSphere Automation REST API (vCenter 7.0 U2 and later), with a session. */
const VspherePower = strict({
  kind: z.literal('vsphere'),
  /** vCenter, e.g. `https://vcenter.example.net`. */
  endpoint: httpsUrl,
  /** The VM's managed object id, e.g. `vm-1042`. */
  vm: z.string().regex(/^vm-\d+$/, 'must be a VM identifier such as vm-1042'),
  username: z.string().min(1),
  passwordFile: z.string().min(1),
  caFile: z.string().min(1).optional(),
  requestTimeoutMs,
  confirmTimeoutMs,
});

export const PowerTarget = z.discriminatedUnion('kind', [KubernetesPower, DockerPower, ProxmoxPower, VspherePower]);
export type PowerTarget = z.output<typeof PowerTarget>;
export type PowerTargetOf<K extends PowerTarget['kind']> = Extract<PowerTarget, { kind: K }>;

/**
 * The failover controller (`mailfleet run --role failover-controller`), at
 * the standby site or a witness site. Every default is chosen so a
 * confirmed, fenced failover completes well inside 30 s (issue 13; SmarterMail
 * waits 60 s): detection takes about failureThreshold × probeIntervalMs
 * (5 × 2 s = 10 s), leaving 20 s for the lease, the fence and the start.
 */
export const FailoverControllerFields = {
  /** automatic: fail over after a confirmed outage; manual: only alert (promote with `mailfleet failover promote`). */
  mode: z.enum(['automatic', 'manual']).default('automatic'),
  /** What the controller checks on the primary, from its own vantage point; at least one. */
  probes: strict({
    /** host:port of the primary's SMTP listener: a `220 ` banner must arrive (RFC 5321 §4.2, §3.1). */
    smtp: z.string().min(1).optional(),
    /** host:port of the primary's IMAP listener: an untagged `* OK` or `* PREAUTH` greeting (RFC 3501 §7.1). */
    imap: z.string().min(1).optional(),
    /** The primary's management `GET /readyz` (or /healthz) URL: 200 means alive. */
    health: z.url().optional(),
  }).refine((p) => p.smtp !== undefined || p.imap !== undefined || p.health !== undefined, 'give at least one of smtp, imap, health'),
  /** Milliseconds between probe rounds. */
  probeIntervalMs: z.number().int().min(100).max(60_000).default(2000),
  /** Longest one probe may take (connect + greeting); a primary frozen with its port open fails by this. */
  probeTimeoutMs: z.number().int().min(50).max(60_000).default(2000),
  /**
   * Hysteresis: fail over only when at least failureThreshold probe rounds
   * failed within the last failureWindowMs and the latest round failed too.
   * Short outages (a restart, a lost packet) stay below it; 5 failed rounds
   * in 12 s at a 2 s interval is an outage of about 10 s.
   */
  failureThreshold: z.number().int().min(1).max(1000).default(5),
  failureWindowMs: z.number().int().min(100).max(3_600_000).default(12_000),
  /**
   * The site lease on shared storage: `<storage.path>/failover/` holds one
   * marker file per epoch (created O_EXCL, the highest wins, as the store's
   * mailbox epochs) and lease.json (holder, epoch, renewal). A holder whose
   * renewal is older than leaseTtlMs has lost it.
   */
  leaseTtlMs: z.number().int().min(500).max(600_000).default(10_000),
  primary: strict({ memberId: dnsLabel, power: PowerTarget }),
  standby: strict({ memberId: dnsLabel, power: PowerTarget }),
  /**
   * Moves client traffic to the new active site (DNS update, VIP move)
   * after it runs: a command (argv, no shell) or a webhook (POST JSON).
   * Both get the target site, member id and epoch.
   */
  trafficSwitch: z
    .discriminatedUnion('kind', [
      strict({ kind: z.literal('command'), argv: z.array(z.string().min(1)).min(1) }),
      strict({ kind: z.literal('webhook'), url: z.url(), tokenFile: z.string().min(1).optional() }),
    ])
    .optional(),
  /** Longest the traffic switch may take; a hook that hangs is killed and recorded as failed. */
  trafficSwitchTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
};
