import type { PolicyResource, ReportViolation, StackValidationPolicy } from '@pulumi/policy';
import { TLS_CAPABLE_PORTS, exposuresOf } from '../lib/exposure';
import { runtimeConfigsOf } from '../lib/text';
import { clustersOf, label, pairsOf, reportUnreadable, type TopologyView } from '../lib/topology';
import { isRecord } from '../lib/walk';

/**
 * 5. TLS on every client-facing listener; no plaintext authentication off
 * loopback. Passwords cross the network only inside TLS (RFC 8314 §3:
 * implicit TLS preferred, STARTTLS before AUTH otherwise; RFC 3501 §6.2.3
 * LOGINDISABLED until TLS). Every member gets a certificate, and every port
 * a client can reach is one where TLS is available before credentials.
 */

type Spec = { security?: { plaintextAuth?: string }; tls?: unknown; platform?: { kind?: string } };

function checkSpec(v: TopologyView<Spec>, report: ReportViolation): void {
  if (v.spec.security?.plaintextAuth === 'always') {
    report(`${label(v)} accepts plaintext LOGIN/AUTH from anywhere (security.plaintextAuth: always): set it to never (or loopback) so passwords only cross the network inside TLS.`, v.resource.urn);
  }
  if (!isRecord(v.spec.tls)) {
    report(`${label(v)} has no tls section: set tls.mode (self-signed, provided or cert-manager) so every client listener offers TLS.`, v.resource.urn);
  }
}

function checkConfigs(resources: readonly PolicyResource[], report: ReportViolation): void {
  for (const r of resources) {
    for (const { path, config } of runtimeConfigsOf(r.props)) {
      const id = String(config.memberId);
      if (!isRecord(config.tls) || typeof config.tls.certFile !== 'string' || typeof config.tls.keyFile !== 'string') {
        report(`member config ${id} (${r.name}, ${path}) has no tls certFile/keyFile: its client listeners would run without the cluster's certificate; ship the rendered config (components/render.ts) unchanged.`, r.urn);
      }
      if (config.plaintextAuth === 'always') {
        report(`member config ${id} (${r.name}, ${path}) accepts plaintext authentication from anywhere: plaintextAuth must be never or loopback.`, r.urn);
      }
    }
  }
}

function checkExposures(resources: readonly PolicyResource[], report: ReportViolation): void {
  for (const e of exposuresOf(resources)) {
    if (TLS_CAPABLE_PORTS[e.port] === undefined) {
      report(`"${e.resource.name}" exposes port ${e.port} to clients (${e.how}), which is not a TLS-capable mail or HTTPS port: expose only ${Object.entries(TLS_CAPABLE_PORTS).map(([p, n]) => `${p} ${n}`).join(', ')}.`, e.resource.urn);
    }
  }
}

export const tlsEverywhere: StackValidationPolicy = {
  name: 'tls-everywhere',
  description: 'Every client-facing listener offers TLS (implicit or STARTTLS before authentication) and plaintext authentication is never accepted off loopback.',
  enforcementLevel: 'mandatory',
  tags: ['security', 'tls', 'kubernetes', 'docker', 'proxmox', 'vsphere'],
  remediationSteps: 'Keep security.plaintextAuth at never (or loopback), keep a tls section, and expose only the standard mail ports (25, 587, 465, 143, 993, 110, 995) and 443.',
  validateStack: (args, reportViolation) => {
    const clusters = clustersOf(args);
    const pairs = pairsOf(args);
    reportUnreadable([...clusters.unreadable, ...pairs.unreadable], reportViolation);
    for (const v of [...clusters.views, ...pairs.views] as TopologyView<Spec>[]) {
      checkSpec(v, reportViolation);
      checkConfigs(v.descendants, reportViolation);
      checkExposures(v.descendants, reportViolation);
    }
  },
};
