import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * bench/render-one.ts with --wait (bench/render starts four at once, lets
 * them load side by side, then renders one at a time): it announces
 * `ready`, renders nothing until `go`, and a bench that goes away (stdin
 * closed) ends it with an error instead of a render or a hang.
 */
const SCRIPT = join(__dirname, '..', '..', 'bench', 'render-one.ts');
const BOUND_MS = 120_000;

function renderOne(send: (stdin: NodeJS.WritableStream, sawReady: Promise<void>) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, 'kubernetes', '--wait'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let onReady: () => void = () => undefined;
    const sawReady = new Promise<void>((r) => (onReady = r));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.startsWith('ready\n')) onReady();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`render-one did not finish within ${BOUND_MS} ms; stdout ${stdout}; stderr ${stderr}`));
    }, BOUND_MS);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    send(child.stdin, sawReady);
  });
}

describe('bench render-one --wait', () => {
  it('renders after "go" and prints one JSON line with the resources', async () => {
    const r = await renderOne((stdin, ready) => {
      void ready.then(() => stdin.end('go\n'));
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('ready');
    expect(JSON.parse(lines[1]!)).toMatchObject({ platform: 'kubernetes', resources: expect.any(Number) as number });
    expect((JSON.parse(lines[1]!) as { resources: number }).resources).toBeGreaterThan(0);
  }, BOUND_MS + 10_000);

  it('renders nothing and exits non-zero when stdin closes before "go"', async () => {
    const r = await renderOne((stdin, ready) => {
      void ready.then(() => stdin.end('not yet\n'));
    });
    expect(r.stdout).toBe('ready\n');
    expect(r.stderr).toContain('stdin closed before "go"');
    expect(r.code).toBe(1);
  }, BOUND_MS + 10_000);
});
