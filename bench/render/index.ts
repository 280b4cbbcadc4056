import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { row, type BenchRow, type SuiteResult } from '../report';

/**
 * `npm run bench -- render`: the Pulumi program's render time for the
 * issue's topology (100 nodes, 10 gateways, 4 proxies, 3 hubs, 1,000
 * domains) under Pulumi mocks, one process per platform (the mocks are
 * process-global).
 *
 * Where the suite's time went (2026-12-02, load ≈ 14 on 2 cores): 28 s of
 * rendering and 22 s of four processes loading the components one after
 * the other. The four processes now load side by side (preparation, not
 * measured); once all are loaded, one platform at a time renders while the
 * others wait on stdin, so each render has the CPUs to itself as before.
 * Every wait is bounded.
 */

const PLATFORMS = ['kubernetes', 'docker', 'proxmox', 'vsphere'] as const;
/** Bound on a process loading the components (a bound, not a measurement). */
const LOAD_BOUND_MS = 180_000;
/** Bound on one render. */
const RENDER_BOUND_MS = 300_000;

interface Renderer {
  platform: string;
  child: ChildProcess;
  /** The next stdout line, or an error naming what went wrong (exit, timeout). */
  line(timeoutMs: number, what: string): Promise<string>;
  stderr(): string;
}

function startRenderer(platform: string): Renderer {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'render-one.ts'), platform, '--wait'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(l);
    wake?.();
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
    wake?.();
  });
  return {
    platform,
    child,
    stderr: () => err.trim().split('\n')[0] ?? '',
    async line(timeoutMs, what) {
      const deadline = performance.now() + timeoutMs;
      while (!lines.length) {
        if (exited) throw new Error(`${platform}: exited before ${what}${err ? `: ${err.trim().split('\n')[0]}` : ''}`);
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`${platform}: no ${what} within ${timeoutMs} ms`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, left);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
      }
      return lines.shift()!;
    },
  };
}

export async function runRenderBench(log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): Promise<SuiteResult> {
  const rows: BenchRow[] = [];
  const notes = ['100 nodes, 10 gateways, 4 proxies, 3 hubs, 1,000 domains under Pulumi mocks, one process per platform; the processes load the components side by side, then render one at a time.'];
  const renderers = PLATFORMS.map(startRenderer);
  try {
    const t0 = performance.now();
    const loaded = await Promise.allSettled(renderers.map((r) => r.line(LOAD_BOUND_MS, 'ready line')));
    log(`render: 4 processes loaded the components in ${((performance.now() - t0) / 1000).toFixed(1)} s (side by side)`);
    for (const [i, r] of renderers.entries()) {
      const l = loaded[i]!;
      if (l.status === 'rejected' || l.value !== 'ready') {
        notes.push(`${r.platform} failed: ${l.status === 'rejected' ? (l.reason as Error).message : `unexpected "${l.value.slice(0, 80)}"`}`);
        continue;
      }
      try {
        r.child.stdin!.write('go\n');
        const out = JSON.parse(await r.line(RENDER_BOUND_MS, 'result')) as { resources: number; ms: number; rssMiB: number };
        r.child.stdin!.end();
        log(`render: ${r.platform} ${out.resources} resources in ${out.ms} ms`);
        rows.push(row({ suite: 'render', metric: `${r.platform}: render ${out.resources} resources`, unit: 'ms', mailfleet: out.ms, better: 'lower', note: `rss ${out.rssMiB} MiB` }));
      } catch (err) {
        notes.push(`${r.platform} failed: ${(err as Error).message}`);
      }
    }
  } finally {
    for (const r of renderers) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  }
  return { rows, notes };
}
