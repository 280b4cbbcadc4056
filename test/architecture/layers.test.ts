import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * DESIGN.md's layers, checked by dependency-cruiser with the repository's own
 * rule set (.dependency-cruiser.cjs): first on the real tree (no violation),
 * then on a tree built to break every rule, so a rule that silently stopped
 * matching fails here.
 */

type Violation = { rule: { name: string }; from: string; to: string };

const ROOT = resolve(__dirname, '..', '..');

async function cruiseAt(baseDir: string, dirs: string[]): Promise<Violation[]> {
  const { cruise } = await import('dependency-cruiser');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the rule set is a CommonJS config file
  const config = require(resolve(ROOT, '.dependency-cruiser.cjs')) as { forbidden: unknown[]; options: Record<string, unknown> };
  const result = await cruise(dirs, {
    ...config.options,
    baseDir,
    ruleSet: { forbidden: config.forbidden },
    validate: true,
    tsConfig: { fileName: resolve(ROOT, 'tsconfig.json') },
  } as never);
  const output = result.output as { summary: { violations: Violation[] } };
  return output.summary.violations;
}

describe('layers (dependency-cruiser, .dependency-cruiser.cjs)', () => {
  it('the source tree keeps every rule', async () => {
    const violations = await cruiseAt(ROOT, ['program.ts', 'index.ts', 'plugin.ts', 'cli', 'components', 'mail-runtime', 'policies', 'stacks', 'bench', 'bin']);
    expect(violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
  }, 120_000);

  it('every rule fires on a tree that breaks it', async () => {
    const violations = await cruiseAt(resolve(ROOT, 'test/fixtures/layering'), ['program.ts', 'index.ts', 'mail-runtime', 'components', 'stacks', 'policies', 'cli']);
    const seen = new Set(violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`));
    expect([...seen].sort()).toEqual(
      [
        'components-stay-below: components/spec.ts → cli/main.ts',
        'components-use-only-runtime-config: components/spec.ts → mail-runtime/config/load.ts',
        'nothing-imports-cli: components/spec.ts → cli/main.ts',
        'no-cycles: components/cycle-b.ts → components/index.ts',
        'program-runs-stacks: program.ts → mail-runtime/config/index.ts',
        'library-entry-is-components: index.ts → stacks/program.ts',
        'policies-self-contained: policies/rule.ts → components/index.ts',
        'runtime-never-imports-pulumi: mail-runtime/pulumi.ts → ../../../node_modules/@pulumi/pulumi/index.js',
        'runtime-stays-below: mail-runtime/main.ts → components/spec.ts',
        'stacks-use-components-index: stacks/program.ts → components/spec.ts',
      ].sort(),
    );
  }, 120_000);
});
