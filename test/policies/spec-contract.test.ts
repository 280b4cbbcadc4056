import { describe, expect, expectTypeOf, it } from 'vitest';
import type { ClusterSpec, FailoverPairSpec } from '../../components/spec';
import type { ClusterSpec as PolicyClusterSpec, FailoverPairSpec as PolicyFailoverPairSpec } from '../../policies/lib/spec';

/**
 * The policy pack reads the `spec` output the components register through
 * its own description of it (policies/lib/spec.ts: the pack is installed
 * and run on its own, so it cannot import components/). These checks run at
 * compile time (`npm run typecheck`, which covers test/): a field the
 * components rename or retype that the pack reads stops the build.
 */

// Assignments a drift breaks, with the offending field named by tsc.
const cluster = (s: ClusterSpec): PolicyClusterSpec => s;
const pair = (s: FailoverPairSpec): PolicyFailoverPairSpec => s;

describe('the policy pack\'s view of the spec', () => {
  it('every validated cluster and failover pair spec is one the pack can read (checked by tsc)', () => {
    expectTypeOf<ClusterSpec>().toExtend<PolicyClusterSpec>();
    expectTypeOf<FailoverPairSpec>().toExtend<PolicyFailoverPairSpec>();
    // The filters the antivirus rule reads, field for field.
    expectTypeOf<NonNullable<ClusterSpec['filters']['antivirus']>['deploy']>().toExtend<NonNullable<NonNullable<PolicyClusterSpec['filters']>['antivirus']>['deploy']>();
    expectTypeOf<NonNullable<ClusterSpec['filters']['antivirus']>['address']>().toExtend<NonNullable<NonNullable<PolicyClusterSpec['filters']>['antivirus']>['address']>();
    expect([cluster, pair].every((f) => typeof f === 'function')).toBe(true);
  });
});
