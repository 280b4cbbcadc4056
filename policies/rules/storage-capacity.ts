import type { StackValidationPolicy } from '@pulumi/policy';
import { plannedMailGiB, type Domain, type Storage } from '../lib/spec';
import { configOf } from '../lib/config';
import { clustersOf, label, pairsOf, reportUnreadable, type TopologyView } from '../lib/topology';
import { isRecord } from '../lib/walk';

/**
 * 11. Storage capacity (advisory). Shared storage must hold every mailbox at
 * its quota (maxUsers × mailboxMiB per domain) plus headroom for queues,
 * index files, the hub's state and growth; a full volume makes every node
 * answer temp-fail at once.
 */

const DEFAULTS = { headroomPercent: 20 };

function need(domains: readonly Domain[], headroomPercent: number): { planned: number; needed: number } {
  const planned = plannedMailGiB(domains.filter((d) => isRecord(d) && isRecord(d.quota)));
  return { planned, needed: Math.ceil(planned * (1 + headroomPercent / 100)) };
}

export const storageCapacity: StackValidationPolicy = {
  name: 'storage-capacity',
  description: 'Shared storage covers every hosted mailbox at its quota (maxUsers × mailboxMiB) plus headroom.',
  enforcementLevel: 'advisory',
  tags: ['capacity', 'storage', 'kubernetes', 'docker', 'proxmox', 'vsphere'],
  remediationSteps: 'Raise storage.sizeGiB, or lower domains[].quota.maxUsers / mailboxMiB.',
  configSchema: {
    properties: {
      headroomPercent: { type: 'number', minimum: 0, maximum: 1000, default: 20, description: 'Extra capacity above users × quota, in percent.' },
    },
  },
  validateStack: (args, reportViolation) => {
    const cfg = configOf(args, DEFAULTS);
    const clusters = clustersOf(args);
    const pairs = pairsOf(args);
    reportUnreadable([...clusters.unreadable, ...pairs.unreadable], reportViolation);
    const check = (v: TopologyView<unknown>, where: string, storage: Storage | undefined, domains: readonly Domain[]) => {
      if (!isRecord(storage) || typeof storage.sizeGiB !== 'number') return;
      const { planned, needed } = need(domains, cfg.headroomPercent);
      if (storage.sizeGiB < needed) {
        reportViolation(
          `${label(v)}: ${where} holds ${storage.sizeGiB} GiB but the domains may need ${Math.ceil(planned)} GiB (users × quota) + ${cfg.headroomPercent}% headroom = ${needed} GiB; raise ${where === 'storage' ? 'storage' : `${where}`}.sizeGiB to at least ${needed} or lower the quotas.`,
          v.resource.urn,
        );
      }
    };
    for (const c of clusters.views) check(c, 'storage', c.spec.storage, c.spec.domains ?? []);
    for (const p of pairs.views) {
      check(p, 'primary.storage', p.spec.primary?.storage, p.spec.domains ?? []);
      check(p, 'standby.storage', p.spec.standby?.storage, p.spec.domains ?? []);
    }
  },
};
