import type { PolicyResource, StackValidationPolicy } from '@pulumi/policy';
import type { FailoverPairSpec, Platform } from '../lib/spec';
import { podSpecOf } from '../lib/platform';
import { DOCKER, K8S, PROXMOX } from '../lib/tokens';
import { label, memberOf, pairsOf, reportUnreadable, type PairView } from '../lib/topology';
import { at, isRecord, num } from '../lib/walk';

/**
 * 4. Failover pairs. A cold standby protects against losing a site only if
 * it is in another site on another platform, and an automatic failover is
 * safe only if the old primary is fenced (storage lease taken, power cut)
 * before the standby starts writing. Until then the standby stays stopped:
 * two running all-roles members on replicated storage are a split brain.
 */

/** Where a site's platform is managed from; two sites with the same endpoint share a failure domain. */
export function platformEndpoint(p: Platform | undefined): string[] {
  if (!isRecord(p)) return [];
  switch (p.kind) {
    case 'proxmox': {
      try {
        const u = new URL(p.endpoint ?? '');
        return [`proxmox ${u.hostname.toLowerCase()}:${u.port || '443'}`];
      } catch {
        return [`proxmox ${String(p.endpoint).toLowerCase()}`];
      }
    }
    case 'vsphere':
      return [`vsphere ${String(p.server).toLowerCase()}`];
    case 'kubernetes':
      return [`kubernetes context ${p.context ?? '(the ambient kubeconfig context)'}`];
    case 'docker':
      return (p.hosts ?? ['unix:///var/run/docker.sock']).map((h) => `docker ${h.toLowerCase()}`);
    case 'local':
      return [`local ${p.host ?? '127.0.0.1'}`];
    default:
      return [];
  }
}

function standbyResources(v: PairView): PolicyResource[] {
  return v.descendants.filter((r) => [v.name, v.spec.name].some((prefix) => {
    const m = prefix ? memberOf(prefix, r.name) : undefined;
    return m?.role === 'all' && m.index === 1;
  }));
}

/** Why a standby resource is running, or undefined when it is stopped. */
function runningReason(r: PolicyResource): string | undefined {
  switch (r.type) {
    case PROXMOX.vmLegacy:
      return at(r.props, 'started') === false ? undefined : 'started is not false';
    case PROXMOX.haResource: {
      const state = at(r.props, 'state');
      return state === 'started' || state === undefined ? `its HA state is ${String(state ?? 'started (the default)')}` : undefined;
    }
    case DOCKER.container:
      return at(r.props, 'start') === false ? undefined : 'start is not false';
    case K8S.statefulSet:
    case K8S.deployment: {
      if (!podSpecOf(r)) return undefined;
      const replicas = num(at(r.props, 'spec', 'replicas')) ?? 1;
      return replicas > 0 ? `replicas is ${replicas}` : undefined;
    }
    default:
      return undefined;
  }
}

export function checkPair(v: PairView, report: (message: string, urn: string) => void): void {
  const s: FailoverPairSpec = v.spec;
  const urn = v.resource.urn;
  const primarySite = s.primary?.site?.name;
  const standbySite = s.standby?.site?.name;
  if (!primarySite || primarySite === standbySite) {
    report(`failover pair ${label(v)} puts primary and standby in the same site "${primarySite ?? '(unnamed)'}": give standby.site another name and place it in another data centre.`, urn);
  }
  const both = s.primary?.platform?.kind === 'local' && s.standby?.platform?.kind === 'local';
  const shared = platformEndpoint(s.primary?.platform).filter((e) => platformEndpoint(s.standby?.platform).includes(e));
  if (!both && shared.length > 0) {
    report(`failover pair ${label(v)}: primary and standby are managed through the same platform endpoint (${shared.join(', ')}); the standby must run on another platform installation (another API endpoint, vCenter, kube context or Docker host).`, urn);
  }
  const f = s.failover;
  if (f?.mode === 'automatic') {
    if (!f.fencing) {
      report(`failover pair ${label(v)} fails over automatically without fencing: set failover.fencing (storageLease: true and/or powerOff: true) so the old primary cannot keep writing after the standby starts.`, urn);
    } else if (f.fencing.storageLease === false && f.fencing.powerOff === false) {
      report(`failover pair ${label(v)} fails over automatically with fencing.storageLease and fencing.powerOff both off: enable at least one so the old primary is fenced before the standby starts.`, urn);
    }
  }
  if (f?.standbyState === 'running') {
    report(`failover pair ${label(v)} keeps the standby running (failover.standbyState: running): set it to stopped; a running standby on replicated storage is a split brain waiting to happen.`, urn);
  }
  for (const r of standbyResources(v)) {
    const why = runningReason(r);
    if (why) report(`standby member resource "${r.name}" (${r.type}) would run: ${why}. The standby stays stopped until the failover controller promotes it.`, r.urn);
  }
}

export const failoverPairs: StackValidationPolicy = {
  name: 'failover-pairs',
  description: 'A failover pair puts primary and standby in different sites on different platform endpoints, fences the primary before an automatic failover, and keeps the standby stopped until promotion.',
  enforcementLevel: 'mandatory',
  tags: ['ha', 'failover', 'kubernetes', 'docker', 'proxmox', 'vsphere'],
  remediationSteps: 'Use distinct standby.site.name and platform endpoints; with failover.mode automatic set failover.fencing; keep failover.standbyState stopped.',
  validateStack: (args, reportViolation) => {
    const { views, unreadable } = pairsOf(args);
    reportUnreadable(unreadable, reportViolation);
    for (const v of views) checkPair(v, reportViolation);
  },
};
