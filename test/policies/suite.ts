import { beforeAll, describe, expect, it } from 'vitest';
import type { Capture } from '../../components/offline/capture';
import type { PolicyResult } from '../../cli/preview/policy-gate';
import { check, clusterHarness, compliantSpec, modify, specCases, violated, type DeployKind } from './helpers';

/** The advisory policies; every other one is mandatory. */
const ADVISORY = ['storage-capacity', 'storage-backups', 'inbound-antivirus'];

export interface ResourceCase {
  policy: string;
  what: string;
  /** Builds the violating graph from the compliant capture (a shape no valid spec produces). */
  build: (cap: Capture) => Pick<Capture, 'resources'>;
  /** Extra assertion on the findings. */
  expectFindings?: (results: PolicyResult[]) => void;
}

/**
 * The per-platform policy suite: the compliant production spec passes every
 * policy; each violating spec or resource graph reports exactly its policy.
 */
export function policySuite(kind: DeployKind, resourceCases: ResourceCase[]) {
  const capture = clusterHarness(kind);
  let compliant: Capture;

  beforeAll(async () => {
    compliant = await capture(compliantSpec(kind));
  });

  describe(`policies on ${kind}`, () => {
    it('a compliant production cluster passes every policy, advisory ones included', async () => {
      expect(compliant.duplicates).toEqual([]);
      const results = await check(compliant);
      expect(results).toEqual([]);
    });

    for (const c of specCases(kind)) {
      it(`${c.policy}: ${c.what} (spec captured again) reports exactly that policy`, async () => {
        const cap = await capture(modify(compliantSpec(kind), c.change));
        const results = await check(cap);
        expect(violated(results)).toEqual([c.policy]);
        for (const r of results) {
          expect(r.message.length).toBeGreaterThan(20);
          expect(r.urn).toMatch(/^urn:pulumi:/);
          expect(r.enforcementLevel).toBe(ADVISORY.includes(c.policy) ? 'advisory' : 'mandatory');
        }
      });
    }

    for (const c of resourceCases) {
      it(`${c.policy}: ${c.what} (resources built by hand) reports exactly that policy`, async () => {
        const results = await check(c.build(compliant));
        expect(violated(results)).toEqual([c.policy]);
        c.expectFindings?.(results);
      });
    }
  });
}
