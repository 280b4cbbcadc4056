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

/** A PowerTarget (mail-runtime/config) from exported facts plus the file that holds the credential. */
export function powerTarget(p: PrimaryPower, credentialFile: string): PowerTarget {
  switch (p.kind) {
    case 'kubernetes':
      return { ...p, tokenFile: credentialFile, replicas: 1, requestTimeoutMs: 10_000, confirmTimeoutMs: 60_000 };
    case 'docker':
      return { ...p, apiVersion: '1.41', stopGraceSeconds: 0, requestTimeoutMs: 10_000, confirmTimeoutMs: 60_000 };
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
