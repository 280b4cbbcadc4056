import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Wire } from './wire';

/** Latency figures of a series of round trips (ms). */
export interface Latency {
  n: number;
  p50: number;
  p99: number;
  max: number;
  /** Round trips that got no OK (timeout, NO, closed). */
  failed: number;
}

export function summarize(ms: number[], failed = 0): Latency {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : Number.NaN);
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s.length ? s[s.length - 1] : Number.NaN, failed };
}

/**
 * The bystander: a logged-in session with INBOX selected that sends NOOP
 * after NOOP while an attack runs, and records each round trip. It runs in
 * a child process (child.ts), so that the attackers' own work in the bench
 * process cannot delay it; what it measures is the node.
 */
export class Bystander {
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => {
      this.lines.push(l);
      this.waiter?.();
    });
    child.once('exit', () => this.waiter?.());
  }

  private async nextLine(timeoutMs: number): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    while (!this.lines.length) {
      if (this.child.exitCode !== null) throw new Error('bystander process exited');
      const left = deadline - performance.now();
      if (left <= 0) throw new Error('bystander did not answer');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.lines.shift() as string;
  }

  static async open(port: number, from: string, user: string, password: string): Promise<Bystander> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'child.ts'), String(port), from, user, password], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const b = new Bystander(child);
    const first = await b.nextLine(30_000);
    if (first !== 'ready') throw new Error(`bystander: ${first}`);
    return b;
  }

  /** NOOP round trips, `gapMs` apart, until `until` settles (and at least for `minMs`), bounded by `maxMs`. */
  async measure(until: Promise<unknown>, opts: { gapMs?: number; minMs?: number; maxMs?: number } = {}): Promise<Latency> {
    const t0 = performance.now();
    this.child.stdin?.write(`start ${opts.gapMs ?? 20}\n`);
    const maxMs = opts.maxMs ?? 120_000;
    await Promise.race([until.catch(() => undefined), new Promise((r) => setTimeout(r, maxMs))]);
    const left = (opts.minMs ?? 0) - (performance.now() - t0);
    if (left > 0) await new Promise((r) => setTimeout(r, left));
    this.child.stdin?.write('stop\n');
    return JSON.parse(await this.nextLine(60_000)) as Latency;
  }

  close(): void {
    this.child.stdin?.end('quit\n');
    setTimeout(() => this.child.kill('SIGKILL'), 2000).unref();
  }
}

/** One login on a fresh connection from `from`: its latency (LOGIN sent → tagged reply) and the reply. */
export async function timedLogin(port: number, from: string, user: string, password: string, timeoutMs = 60_000): Promise<{ ms: number; reply: string }> {
  let wire: Wire | undefined;
  try {
    wire = await Wire.open(port, { from });
    const greeting = await wire.readLine(timeoutMs);
    if (!greeting.startsWith('* OK')) return { ms: Number.NaN, reply: greeting };
    const t0 = performance.now();
    const reply = await wire.imap(`LOGIN "${user}" "${password}"`, timeoutMs);
    return { ms: performance.now() - t0, reply };
  } catch (err) {
    return { ms: Number.NaN, reply: `error: ${(err as Error).message}` };
  } finally {
    wire?.close();
  }
}
