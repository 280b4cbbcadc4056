/**
 * One render benchmark run (one platform, one process: Pulumi mocks are
 * process-global). Loads the components, prints `ready`, waits for `go` on
 * stdin, then renders and prints a JSON line: platform, resources, ms, rss.
 *
 * The wait lets bench/render start the four platforms' processes at once
 * and load their modules side by side (the module load is the same for
 * each and not measured), then render one platform at a time, so no
 * render shares the CPUs with another process's work.
 */
import { createInterface } from 'node:readline';
import { MailCluster, credentialsFromStackConfig, installCapture, commonMockOutputs, composeMockOutputs, platformInvokeResult, platformMockOutputs } from '../components';
import { BENCH_CONFIG, bigClusterSpec } from './specs';

const PLATFORMS = ['kubernetes', 'docker', 'proxmox', 'vsphere'] as const;
type Platform = (typeof PLATFORMS)[number];

/** Resolves on a `go` line; rejects when stdin closes first (the bench went away). */
function waitForGo(): Promise<void> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (l) => {
      if (l.trim() !== 'go') return;
      // Settle first: close() emits 'close' at once, whose reject would otherwise win.
      resolve();
      rl.close();
    });
    rl.on('close', () => reject(new Error('stdin closed before "go"')));
  });
}

async function main() {
  const platform = process.argv[2] as Platform;
  if (!PLATFORMS.includes(platform)) throw new Error(`unknown platform "${String(process.argv[2])}"; one of ${PLATFORMS.join(', ')}`);
  const spec = bigClusterSpec(platform);
  if (process.argv.includes('--wait')) {
    process.stdout.write('ready\n');
    await waitForGo();
  }
  // After the wait: the mocks are installed right before the program runs, as without --wait.
  const run = installCapture({ stack: 'bench', ...BENCH_CONFIG, outputsFor: composeMockOutputs(commonMockOutputs, platformMockOutputs), invokeResult: platformInvokeResult });
  const t0 = process.hrtime.bigint();
  const cap = await run(() => new MailCluster('bench', { spec, credentials: credentialsFromStackConfig(platform) }));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  process.stdout.write(`${JSON.stringify({ platform, resources: cap.resources.length, ms: Math.round(ms), rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20) })}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
