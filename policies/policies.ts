import type { StackValidationPolicy } from '@pulumi/policy';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminApiPrivate } from './rules/admin-api-private';
import { failoverPairs } from './rules/failover-pairs';
import { failureDomains } from './rules/failure-domains';
import { haMinimums } from './rules/ha-minimums';
import { inboundAntivirus } from './rules/inbound-antivirus';
import { noOpenRelay } from './rules/no-open-relay';
import { pinnedRuntimeImage } from './rules/pinned-runtime-image';
import { resourceFloors } from './rules/resource-floors';
import { secretsStaySecret } from './rules/secrets-stay-secret';
import { sharedStorage } from './rules/shared-storage';
import { storageBackups } from './rules/storage-backups';
import { storageCapacity } from './rules/storage-capacity';
import { tlsEverywhere } from './rules/tls-everywhere';
import { verifiedRuntimePackage } from './rules/verified-runtime-package';

/**
 * The mailfleet policies, in the order of issue 4, then the ones added since
 * (issue 10: verified-runtime-package; issue 11: inbound-antivirus). Every one is a stack
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
  verifiedRuntimePackage,
  inboundAntivirus,
];

export const POLICY_PACK_NAME = 'mailfleet';
/**
 * The pack's version, from policies/package.json: the one source. `new
 * PolicyPack` reports the package.json in its working directory (the pack's
 * folder under the CLI), the offline gate reports this, and
 * PulumiPolicy.yaml's `version` must agree (checked by
 * test/policies/analyzer.test.ts).
 */
export const POLICY_PACK_VERSION = readPackVersion(join(__dirname, 'package.json'));

function readPackVersion(file: string): string {
  const pkg: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const version = typeof pkg === 'object' && pkg !== null ? (pkg as { version?: unknown }).version : undefined;
  if (typeof version !== 'string' || !/^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/.test(version)) {
    throw new Error(`${file}: "version" must be a semantic version such as 1.2.3 (got ${JSON.stringify(version)})`);
  }
  return version;
}

export const POLICY_PACK_DESCRIPTION =
  'Stops unsafe mail topologies before deployment: HA minimums, failure domains, shared storage, failover fencing, TLS, no open relay, private admin API, secrets, resource floors, pinned images, capacity and backups, verified runtime packages, antivirus on inbound mail.';

export { haMinimums, failureDomains, sharedStorage, failoverPairs, tlsEverywhere, noOpenRelay, adminApiPrivate, secretsStaySecret, resourceFloors, pinnedRuntimeImage, storageCapacity, storageBackups, verifiedRuntimePackage, inboundAntivirus };
