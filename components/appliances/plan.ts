import type { ApplianceKind, RenderedAppliance } from '../render';
import type { ClusterSpec } from '../spec';
import { renderClamdConf, renderFreshclamConf, signatureUpdates, type ApplianceHost, type SignatureSource } from './clamav';
import { CLAMD_IMAGE, RSPAMD_IMAGE } from './images';
import { renderRspamdLocalConfig } from './rspamd';

/**
 * What the platform adapters deploy for `filters.*.deploy`: for each daemon
 * its image (containers), its configuration files and the sizes below. The
 * adapters place it (components/render.ts renderAppliances says where and
 * which gateways use it); this module decides what runs there.
 */

/**
 * Sizes of the appliance workloads. Named here, not in the spec: they follow
 * from the daemons, not from the mail load.
 */
export const APPLIANCE_SIZES = {
  /**
   * clamd holds the whole signature database in memory (about 1.2 GiB with
   * the official databases) and, reloading concurrently, briefly two:
   * ClamAV's documentation asks for 2–3 GiB.
   */
  clamd: { cpu: 1, memoryMiB: 3072 },
  /** freshclam downloads diffs; it does not test-load them in containers (see clamav.ts), so it stays small. */
  freshclam: { cpu: 0.2, memoryMiB: 512 },
  /** Seeds the signature volume from the image (a file copy). */
  seed: { cpu: 0.2, memoryMiB: 128 },
  /** rspamd's workers with the shipped rules and hyperscan caches. */
  rspamd: { cpu: 1, memoryMiB: 1024 },
  /** An appliance VM runs clamd (with freshclam test-loading updates: a third database copy) and rspamd on Debian. */
  vm: { cpu: 2, memoryMiB: 6144, diskGiB: 20 },
} as const;

/** Room for the signatures (about 400 MiB) and freshclam's downloads next to them. */
export const SIGNATURE_VOLUME_GIB = 2;

export interface ClamdPlan {
  image: string;
  updates: SignatureSource;
  clamdConf: string;
  /** Absent with updates.mode none: freshclam does not run. */
  freshclamConf?: string;
}

export interface RspamdPlan {
  image: string;
  offline: boolean;
  /** /etc/rspamd/local.d/<name> → content. */
  localFiles: Record<string, string>;
}

export interface AppliancePlan {
  clamd?: ClamdPlan;
  rspamd?: RspamdPlan;
}

/** The daemons a cluster deploys and how they are configured on `where`. Empty when no filter says deploy. */
export function appliancePlan(spec: ClusterSpec, where: ApplianceHost): AppliancePlan {
  const { antivirus, spam } = spec.filters;
  const maxMessageBytes = spec.gateway.maxMessageBytes;
  const plan: AppliancePlan = {};
  if (antivirus?.deploy) {
    const updates = signatureUpdates(antivirus);
    plan.clamd = {
      image: antivirus.image ?? CLAMD_IMAGE,
      updates,
      clamdConf: renderClamdConf({ where, maxMessageBytes }),
      freshclamConf: updates.mode === 'none' ? undefined : renderFreshclamConf({ where, updates }),
    };
  }
  if (spam?.deploy) {
    const offline = spam.offline === true;
    plan.rspamd = { image: spam.image ?? RSPAMD_IMAGE, offline, localFiles: renderRspamdLocalConfig({ offline, maxMessageBytes }) };
  }
  return plan;
}

/** One appliance VM: the daemons of one slot (site) together. */
export interface ApplianceVm {
  index: number;
  /** `<cluster>-appliance-<i>`: VM name and host name. */
  hostname: string;
  address: string;
  site: string;
  kinds: ApplianceKind[];
}

/** VM platforms run every deployed daemon of a site on one VM (render.ts gives them the same id and address): the appliances by slot. */
export function applianceVms(appliances: readonly RenderedAppliance[]): ApplianceVm[] {
  const bySlot = new Map<number, ApplianceVm>();
  for (const a of appliances) {
    const vm = bySlot.get(a.index) ?? { index: a.index, hostname: a.id, address: a.host, site: a.site, kinds: [] };
    vm.kinds.push(a.kind);
    bySlot.set(a.index, vm);
  }
  return [...bySlot.values()].sort((a, b) => a.index - b.index);
}
