import type { StackValidationPolicy } from '@pulumi/policy';
import type { Storage } from '../lib/spec';
import { configOf } from '../lib/config';
import { clustersOf, label, pairsOf, reportUnreadable, type TopologyView } from '../lib/topology';

/**
 * 12. Backups (advisory). HA protects against a failed machine, not against
 * a deleted mailbox, a bad upgrade or ransomware: the shared storage gets
 * scheduled snapshots or backups, kept for a while.
 */

const DEFAULTS = { minRetain: 1 };

export const storageBackups: StackValidationPolicy = {
  name: 'storage-backups',
  description: 'Shared storage has scheduled backups or snapshots configured (storage.backup).',
  enforcementLevel: 'advisory',
  tags: ['backup', 'storage', 'kubernetes', 'docker', 'proxmox', 'vsphere'],
  remediationSteps: 'Add storage.backup: { schedule: "0 2 * * *", retain: 14, target: <snapshot class / backup storage> }.',
  configSchema: {
    properties: {
      minRetain: { type: 'integer', minimum: 1, default: 1, description: 'Fewest backups to keep.' },
    },
  },
  validateStack: (args, reportViolation) => {
    const cfg = configOf(args, DEFAULTS);
    const clusters = clustersOf(args);
    const pairs = pairsOf(args);
    reportUnreadable([...clusters.unreadable, ...pairs.unreadable], reportViolation);
    const check = (v: TopologyView<unknown>, where: string, storage: Storage | undefined) => {
      if (!storage || typeof storage !== 'object') return;
      const who = label(v);
      if (!storage.backup || typeof storage.backup !== 'object') {
        reportViolation(`${who}: ${where} has no backup configured; add ${where}.backup (schedule, retain, target) so a deleted mailbox or a bad upgrade can be undone.`, v.resource.urn);
      } else if ((storage.backup.retain ?? 0) < cfg.minRetain) {
        reportViolation(`${who}: ${where}.backup keeps ${storage.backup.retain} backup(s); keep at least ${cfg.minRetain}.`, v.resource.urn);
      }
    };
    for (const c of clusters.views) check(c, 'storage', c.spec.storage);
    for (const p of pairs.views) {
      check(p, 'primary.storage', p.spec.primary?.storage);
      check(p, 'standby.storage', p.spec.standby?.storage);
    }
  },
};
