/**
 * One render benchmark run (one platform, one process: Pulumi mocks are
 * process-global). Prints a JSON line: platform, resources, ms, rss.
 */
import { MailCluster, credentialsFromStackConfig, installCapture, commonMockOutputs, composeMockOutputs, platformInvokeResult, platformMockOutputs } from '../components';
import { BENCH_CONFIG, bigClusterSpec } from './specs';

async function main() {
  const platform = process.argv[2] as 'kubernetes' | 'docker' | 'proxmox' | 'vsphere';
  const run = installCapture({ stack: 'bench', ...BENCH_CONFIG, outputsFor: composeMockOutputs(commonMockOutputs, platformMockOutputs), invokeResult: platformInvokeResult });
  const spec = bigClusterSpec(platform);
  const t0 = process.hrtime.bigint();
  const cap = await run(() => new MailCluster('bench', { spec, credentials: credentialsFromStackConfig(platform) }));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  process.stdout.write(`${JSON.stringify({ platform, resources: cap.resources.length, ms: Math.round(ms), rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20) })}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
