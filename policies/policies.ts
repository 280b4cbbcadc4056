import type { StackValidationPolicy } from '@pulumi/policy';
import { adminApiPrivate } from './rules/admin-api-private';
import { failoverPairs } from './rules/failover-pairs';
import { failureDomains } from './rules/failure-domains';
import { haMinimums } from './rules/ha-minimums';
import { noOpenRelay } from './rules/no-open-relay';
import { pinnedRuntimeImage } from './rules/pinned-runtime-image';
import { resourceFloors } from './rules/resource-floors';
import { secretsStaySecret } from './rules/secrets-stay-secret';
import { sharedStorage } from './rules/shared-storage';
import { storageBackups } from './rules/storage-backups';
import { storageCapacity } from './rules/storage-capacity';
import { tlsEverywhere } from './rules/tls-everywhere';

/**
 * The mailfleet policies, in the order of issue 4. Every one is a stack
 * policy: it reads the topology a component registered (the `spec` output of
 * MailCluster / FailoverPair, only known once the graph is built) together
 * with the platform resources underneath it.
 *
 * This module only lists them; policies/index.ts is the one place that serves
 * them as a PolicyPack (a second PolicyPack in one process exits), and the
 * offline gate (cli/preview/policy-gate.ts) runs them directly.
 */
export const policies: readonly StackValidationPolicy[] = [
  haMinimums,
  failureDomains,
  sharedStorage,
  failoverPairs,
  tlsEverywhere,
  noOpenRelay,
  adminApiPrivate,
  secretsStaySecret,
  resourceFloors,
  pinnedRuntimeImage,
  storageCapacity,
  storageBackups,
];

export const POLICY_PACK_NAME = 'mailfleet';
export const POLICY_PACK_VERSION = '0.1.0';
export const POLICY_PACK_DESCRIPTION =
  'Stops unsafe mail topologies before deployment: HA minimums, failure domains, shared storage, failover fencing, TLS, no open relay, private admin API, secrets, resource floors, pinned images, capacity and backups.';

export { haMinimums, failureDomains, sharedStorage, failoverPairs, tlsEverywhere, noOpenRelay, adminApiPrivate, secretsStaySecret, resourceFloors, pinnedRuntimeImage, storageCapacity, storageBackups };
