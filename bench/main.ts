import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { runDirectoryBench, runFailoverBench } from './cluster';
import { runImapBench } from './imap';
import { runIsolationBench } from './isolation';
import { runSmtpBench } from './smtp';

/**
 * `npm run bench -- <suite...>`. Suites print their figures; nothing here is
 * a pass/fail test (timed assertions do not belong in `npm test`).
 */
const SUITES: Record<string, () => Promise<void> | void> = {
  render: () => {
    process.stdout.write('render: 100 nodes, 10 gateways, 4 proxies, 3 hubs, 1,000 domains under Pulumi mocks\n');
    for (const platform of ['kubernetes', 'docker', 'proxmox', 'vsphere']) {
      try {
        const out = execFileSync(process.execPath, ['--import', 'tsx', join(__dirname, 'render-one.ts'), platform], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        const r = JSON.parse(out.trim().split('\n').pop()!) as { resources: number; ms: number; rssMiB: number };
        process.stdout.write(`  ${platform.padEnd(11)} ${String(r.resources).padStart(5)} resources  ${String(r.ms).padStart(6)} ms  rss ${r.rssMiB} MiB\n`);
      } catch (err) {
        const e = err as { stderr?: string };
        process.stdout.write(`  ${platform.padEnd(11)} failed: ${(e.stderr ?? String(err)).trim().split('\n')[0]}\n`);
      }
    }
  },
  imap: () => runImapBench(),
  isolation: () => runIsolationBench(),
  smtp: () => runSmtpBench(),
  failover: () => runFailoverBench(),
  directory: () => runDirectoryBench(),
};

async function main() {
  const wanted = process.argv.slice(2);
  const names = wanted.length ? wanted : Object.keys(SUITES);
  for (const name of names) {
    const suite = SUITES[name];
    if (!suite) {
      process.stderr.write(`bench: unknown suite "${name}"; suites: ${Object.keys(SUITES).join(', ')}\n`);
      process.exitCode = 2;
      return;
    }
    await suite();
  }
}

void main();
