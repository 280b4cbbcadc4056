import type { PolicyResource, StackValidationPolicy } from '@pulumi/policy';
import type { FailoverPairSpec, Platform } from '../lib/spec';
import { podSpecOf } from '../lib/platform';
import { DOCKER, K8S, PROXMOX } from '../lib/tokens';
import { label, memberOf, pairsOf, reportUnreadable, siteOf, type PairView } from '../lib/topology';
import { at, isRecord, num } from '../lib/walk';

/**
 * 4. Failover pairs. A cold standby protects against losing a site only if
 * it is in another site on another platform, and an automatic failover is
 * safe only if the old primary is fenced (storage lease taken, power cut)
 * before the standby starts writing. Until then the standby stays stopped:
 * two running all-roles members on replicated storage are a split brain.
 *
 * A pair is two stacks, one FailoverSite component each (site: primary or
 * standby), each registering the whole pair spec. The standby site reads the
 * primary's facts through a StackReference, which a stack policy cannot see,
 * so the component copies them into its `primary` output; this rule checks
 * the standby against those facts (what the primary really deployed), not
 * only against the spec.
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

/** Storage a site cannot share or replicate: it lives on one host. */
function hostLocalStorage(site: FailoverPairSpec['primary']): string | undefined {
  const st = site?.storage;
  if (st?.kind === 'docker-volume' && !st.nfs) return 'a docker-volume without nfs lives on one Docker host';
  if (st?.kind === 'local-dir') return 'a local-dir lives on one machine';
  return undefined;
}

/** The spec's storage as the component describes it in facts (components/failover-site.ts storageDescription). */
function storageOf(site: FailoverPairSpec['primary']): string | undefined {
  const st = site?.storage;
  switch (st?.kind) {
    case 'nfs':
      return `nfs ${st.server}:${st.path}`;
    case 'pvc-rwx':
      return `pvc-rwx ${st.storageClass}`;
    case 'docker-volume':
      return st.nfs ? `nfs ${st.nfs.server}:${st.nfs.path}` : 'docker-volume (local to the host)';
    default:
      return undefined;
  }
}

/** A standby site checked against the primary facts it copied (what the primary stack really exported). */
function checkStandbyFacts(v: PairView, report: (message: string, urn: string) => void): void {
  const s = v.spec;
  const urn = v.resource.urn;
  const { primary, state } = siteOf(v);
  if (state !== undefined && state !== 'stopped') {
    report(`failover standby ${label(v)} reports its member state "${state}": the standby is created stopped and only the failover controller starts it.`, urn);
  }
  if (!primary) {
    report(`failover standby ${label(v)} has no readable "primary" output (the primary facts it was built from), so site separation and storage cannot be checked; build it with FailoverSite from the primary stack's outputs.`, urn);
    return;
  }
  if (primary.pair !== undefined && primary.pair !== s.name) {
    report(`failover standby ${label(v)} was built from the primary of another pair ("${primary.pair}"): point mailfleet:primaryStack at this pair's primary stack.`, urn);
  }
  const standbySite = s.standby?.site?.name;
  if (!primary.site || primary.site === standbySite) {
    report(`failover standby ${label(v)} is in the same site "${standbySite ?? '(unnamed)'}" as the primary it was built from (its stack exported site "${primary.site ?? '(none)'}"): a standby protects against losing a site only in another one.`, urn);
  }
  const own = platformEndpoint(s.standby?.platform);
  const shared = (primary.platformEndpoints ?? []).filter((e) => own.includes(e));
  if (shared.length > 0 && s.standby?.platform?.kind !== 'local') {
    report(`failover standby ${label(v)} is managed through the same platform endpoint as the deployed primary (${shared.join(', ')}): the standby must run on another platform installation.`, urn);
  }
  if (!primary.storage || !primary.leaseDir) {
    report(`failover standby ${label(v)}: the primary exported no storage export or lease directory, so the controller cannot take the site lease; redeploy the primary stack with this version.`, urn);
  } else if (s.failover?.replication === 'none' && storageOf(s.standby) !== primary.storage) {
    report(`failover standby ${label(v)} uses ${storageOf(s.standby) ?? '(no storage)'} but the primary writes to ${primary.storage} and failover.replication is none: the standby would start without the primary's mail. Mount the same export or replicate it.`, urn);
  }
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
  // Storage reachability: each site's storage must be shareable or replicable to the other site.
  for (const side of ['primary', 'standby'] as const) {
    const why = hostLocalStorage(s[side]);
    if (why) report(`failover pair ${label(v)}: ${side}.storage cannot reach the other site (${why}); use an NFS export (or a replicated one) so the standby can take over the mail.`, urn);
  }
  if (f?.replication === 'none' && storageOf(s.primary) !== storageOf(s.standby)) {
    report(`failover pair ${label(v)} has failover.replication none but the sites use different storage (${storageOf(s.primary) ?? '?'} and ${storageOf(s.standby) ?? '?'}): without replication both must mount the same export.`, urn);
  }
  if (siteOf(v).side === 'standby') checkStandbyFacts(v, report);
  for (const r of standbyResources(v)) {
    const why = runningReason(r);
    if (why) report(`standby member resource "${r.name}" (${r.type}) would run: ${why}. The standby stays stopped until the failover controller promotes it.`, r.urn);
  }
}

export const failoverPairs: StackValidationPolicy = {
  name: 'failover-pairs',
  description: 'A failover pair puts primary and standby in different sites on different platform endpoints with storage the other site can reach, fences the primary before an automatic failover, and keeps the standby stopped until promotion (checked against the primary facts the standby site copied).',
  enforcementLevel: 'mandatory',
  tags: ['ha', 'failover', 'kubernetes', 'docker', 'proxmox', 'vsphere'],
  remediationSteps: 'Use distinct standby.site.name and platform endpoints; give both sites NFS (or replicated) storage; with failover.mode automatic set failover.fencing; keep failover.standbyState stopped; build the standby from this pair\'s primary stack.',
  validateStack: (args, reportViolation) => {
    const { views, unreadable } = pairsOf(args);
    reportUnreadable(unreadable, reportViolation);
    for (const v of views) checkPair(v, reportViolation);
  },
};
