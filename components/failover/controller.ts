import { parseRuntimeConfig, type PowerTarget, type RuntimeConfig, type RuntimeConfigInput } from '../../mail-runtime/config';
import { GUEST_PATHS, STANDARD_PORTS, type RenderedMember } from '../render';
import type { FailoverPairSpec } from '../spec';
import type { PrimaryFacts, PrimaryPower } from './contract';

/** Where the controller finds its power credentials (mounted secrets), per site. */
export const CONTROLLER_CREDENTIAL_FILES = {
  primary: '/etc/mailfleet/power/primary-credential',
  standby: '/etc/mailfleet/power/standby-credential',
  /** Inside a Kubernetes pod: the pod's own service account token (the standby grant). */
  podToken: '/var/run/secrets/kubernetes.io/serviceaccount/token',
} as const;

/** Member id of a pair's failover controller. */
export function controllerId(pair: string): string {
  return `${pair}-controller`;
}

/** Where a docker power credential (the engine's CA, client certificate and key) is mounted, from the credential file's name. */
export function dockerTlsFiles(credentialFile: string): { caFile: string; certFile: string; keyFile: string } {
  return { caFile: `${credentialFile}-ca.pem`, certFile: `${credentialFile}-cert.pem`, keyFile: `${credentialFile}-key.pem` };
}

/** A docker power credential: the client bundle as one JSON string (a Pulumi secret), or '' without TLS. */
export function dockerCredential(bundle: { caPem: string; certPem: string; keyPem: string } | undefined): string {
  return bundle ? JSON.stringify({ ca: bundle.caPem, cert: bundle.certPem, key: bundle.keyPem }) : '';
}

/** The three PEM files of a docker credential; none for '' (an engine without client certificates). */
export function dockerCredentialFiles(credential: string, credentialFile: string): { file: string; content: string }[] {
  if (!credential) return [];
  const b = JSON.parse(credential) as { ca: string; cert: string; key: string };
  const f = dockerTlsFiles(credentialFile);
  return [
    { file: f.caFile, content: b.ca },
    { file: f.certFile, content: b.cert },
    { file: f.keyFile, content: b.key },
  ];
}

/** A PowerTarget (mail-runtime/config) from exported facts plus the file that holds the credential. */
export function powerTarget(p: PrimaryPower, credentialFile: string): PowerTarget {
  switch (p.kind) {
    case 'kubernetes':
      return { ...p, tokenFile: credentialFile, replicas: 1, requestTimeoutMs: 10_000, confirmTimeoutMs: 60_000 };
    case 'docker': {
      const { tls, ...rest } = p;
      // With --tlsverify the credential is the client bundle, mounted as three files beside the credential file's name.
      return { ...rest, ...(tls ? { tls: dockerTlsFiles(credentialFile) } : {}), apiVersion: '1.41', stopGraceSeconds: 0, requestTimeoutMs: 10_000, confirmTimeoutMs: 60_000 };
    }
    case 'proxmox':
      return { ...p, tokenSecretFile: credentialFile, shutdownSeconds: 0, requestTimeoutMs: 10_000, confirmTimeoutMs: 60_000 };
    case 'vsphere':
      return { ...p, passwordFile: credentialFile, requestTimeoutMs: 10_000, confirmTimeoutMs: 60_000 };
  }
}

/**
 * The controller's RuntimeConfig at the standby site: it probes the primary
 * (SMTP banner, IMAP greeting: the ports the other site can reach; the
 * management port is never public) from the standby's vantage point,
 * takes the site lease on the standby's copy of the storage, fences the
 * primary and starts the standby. Timing comes from the spec
 * (probeIntervalSeconds, failureThreshold); the window leaves one spare
 * round of hysteresis. Validated here, so a stack never deploys a config
 * the runtime would reject.
 */
export function renderControllerConfig(spec: FailoverPairSpec, standby: RenderedMember, facts: PrimaryFacts, standbyPower: PrimaryPower, standbyCredentialFile: string): RuntimeConfig {
  const probeIntervalMs = spec.failover.probeIntervalSeconds * 1000;
  const probeTimeoutMs = Math.min(probeIntervalMs, 2000);
  const c = standby.config;
  const input: RuntimeConfigInput = {
    role: 'failover-controller',
    memberId: controllerId(spec.name),
    cluster: spec.name,
    site: standby.site,
    advertise: c.advertise,
    management: { host: '0.0.0.0', port: STANDARD_PORTS.management },
    storage: { path: GUEST_PATHS.storage },
    clusterTokenFile: c.clusterTokenFile,
    tls: c.tls,
    hostname: c.hostname,
    mode: spec.failover.mode,
    probes: {
      smtp: `${facts.address}:${STANDARD_PORTS.smtp}`,
      imap: `${facts.address}:${STANDARD_PORTS.imap}`,
    },
    probeIntervalMs,
    probeTimeoutMs,
    failureThreshold: spec.failover.failureThreshold,
    failureWindowMs: (spec.failover.failureThreshold + 1) * probeIntervalMs,
    primary: { memberId: facts.memberId, power: powerTarget(facts.power, CONTROLLER_CREDENTIAL_FILES.primary) },
    standby: { memberId: standby.memberId, power: powerTarget(standbyPower, standbyCredentialFile) },
  };
  return parseRuntimeConfig(input, `rendered config of ${controllerId(spec.name)}`);
}
