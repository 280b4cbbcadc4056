/**
 * `mailfleet node --config <file>` / `mailfleet run --role node`: the CLI
 * calls `runNode`; `npx tsx mail-runtime/node/main.ts --config <file>` runs it
 * directly. Prints one JSON line with the bound ports on stdout once ready
 * (the launcher and tests read it), stops cleanly on SIGTERM/SIGINT.
 */
import { FieldProblemsError, loadRuntimeConfig, RuntimeConfigError, type RuntimeConfigOf } from '../config';
import { createLogger } from '../common/log';
import { isClusterNode, startClusterNode } from './cluster';
import { nodeOptionsFromConfig } from './from-config';
import { startNode, type RunningNode } from './start';

export async function runNode(cfg: RuntimeConfigOf<'node'>): Promise<RunningNode> {
  // Every line names the cluster and site too: logs of many members (and of
  // both sites of a failover pair) are read side by side.
  const log = createLogger({ role: 'node', member: cfg.memberId, cluster: cfg.cluster, site: cfg.site }, cfg.logLevel);
  // With a hub configured the node is a cluster member (users, placement, lease: node/cluster.ts).
  const node = isClusterNode(cfg) ? await startClusterNode(cfg, log) : await startNode({ ...nodeOptionsFromConfig(cfg), log });
  const stop = (signal: string): void => {
    log.info({ signal }, 'stopping');
    node.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return node;
}

function argValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function main(argv: string[]): Promise<void> {
  const cfg = loadRuntimeConfig({ file: argValue(argv, '--config'), env: process.env });
  if (cfg.role !== 'node') {
    throw new RuntimeConfigError('runtime config', [{ path: 'role', message: `is "${cfg.role}"; this entry point runs the node role only (use \`mailfleet run\`)` }]);
  }
  const node = await runNode(cfg);
  const { imapPort, imapsPort, pop3Port, pop3sPort, lmtpPort, submissionPort, smtpsPort, healthPort } = node;
  process.stdout.write(`${JSON.stringify({ ready: true, imapPort, imapsPort, pop3Port, pop3sPort, lmtpPort, submissionPort, smtpsPort, healthPort })}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    // A bad config is the operator's to fix (the message names the field); anything else is ours: keep the stack.
    const text = err instanceof FieldProblemsError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`mailfleet node: ${text}\n`);
    process.exit(1);
  });
}
