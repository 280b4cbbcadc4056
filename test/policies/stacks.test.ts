import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPreview, type PreviewReport } from '../../cli/preview/main';
import { listStacks } from '../../cli/preview/stack-config';

/**
 * Every stack config shipped in stacks/ is an example users copy: each passes
 * every mandatory policy, through exactly the path `npm run preview` takes
 * (stack config → program under mocks → policy pack).
 */

const stacksDir = join(__dirname, '..', '..', 'stacks');
const stacks = listStacks(stacksDir);

describe('shipped stack configs', () => {
  it('there are stack configs to check', () => {
    expect(stacks.length).toBeGreaterThan(0);
  });

  for (const stack of stacks) {
    it(`${stack} passes every mandatory policy`, async () => {
      let out = '';
      let err = '';
      const code = await runPreview({ stack, json: true, stacksDir }, { out: (s) => (out += s), err: (s) => (err += s) });
      const report = JSON.parse(out) as PreviewReport;
      expect(report.error, err).toBeUndefined();
      expect(report.ok).toBe(true);
      // A failover site is one member (plus, on the standby, its controller); an HA cluster is many.
      expect(report.resources.length).toBeGreaterThan(stack.startsWith('failover-') ? 4 : 10);
      expect(report.policySummary.ran).toBe(true);
      expect(report.policySummary.evaluated).toHaveLength(14);
      expect(report.policies.filter((p) => p.enforcementLevel === 'mandatory')).toEqual([]);
      expect(report.policySummary.passed).toBe(true);
      expect(code).toBe(0);
    });
  }
});
