import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..', '..');

interface Step {
  command: string;
  code: number;
  out: string;
  /** How many @pulumi/* modules the process had loaded once this command returned. */
  pulumi: number;
}

/**
 * Runs the CLI's main() for each command in turn in one fresh process, as
 * bin/mailfleet.js does, and after each reports how many modules of
 * @pulumi/* the process has loaded. Every member a test (or an operator)
 * starts is `mailfleet run`, so loading Pulumi on that path (about 1.7 s of
 * CPU) is paid once per member process.
 */
async function runInOneProcess(...commands: string[]): Promise<Step[]> {
  const script = `
    const { main } = require(${JSON.stringify(join(root, 'cli', 'main.ts'))});
    (async () => {
      const steps = [];
      for (const command of ${JSON.stringify(commands)}) {
        let out = '';
        const io = { out: (s) => { out += s; }, err: (s) => { out += s; }, readSecret: async () => '' };
        const code = await main(['node', 'mailfleet', ...command.split(' ')], io);
        const pulumi = Object.keys(require.cache).filter((k) => k.includes('/node_modules/@pulumi/')).length;
        steps.push({ command, code, out, pulumi });
      }
      process.stdout.write(JSON.stringify(steps));
    })();`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as Step[];
}

describe('the CLI loads Pulumi only for the commands that read a topology', { timeout: 180_000 }, () => {
  it('help, run, the operator commands, failover and user load no @pulumi module', async () => {
    const steps = await runInOneProcess('--help', 'run --help', 'status --help', 'domain --help', 'failover --help', 'queue --help', 'user hash --help');
    for (const step of steps) {
      expect(step, step.command).toMatchObject({ code: 0, out: expect.stringMatching(/Usage: mailfleet/), pulumi: 0 });
    }
    expect(steps).toHaveLength(7);
  });

  it('validate, render and --version still work: they load components/ when they run', async () => {
    const [version, validate, render] = await runInOneProcess('--version', 'validate examples/specs/local.yaml', 'render examples/specs/local.yaml --format json');
    expect(version).toMatchObject({ code: 0, out: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
    expect(version!.pulumi).toBeGreaterThan(0);
    expect(validate).toMatchObject({ code: 0, out: expect.stringMatching(/^ok: examples\/specs\/local\.yaml: cluster /) });
    expect(render!.code).toBe(0);
    expect(Object.keys(JSON.parse(render!.out) as object).length).toBeGreaterThan(0);
  });
});
