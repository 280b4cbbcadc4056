import type { Command } from 'commander';
import { FieldProblemsError, RUNTIME_ROLES, loadRuntimeConfig } from '../../mail-runtime/config';
import { LeaseHeldError } from '../../mail-runtime/failover';
import { startRole } from '../../mail-runtime/main';
import type { CliIo } from '../io';

/**
 * `mailfleet run [--role R] [--config FILE]`: start one member. Config comes
 * from the file and/or MAILFLEET_* variables. Prints one JSON line once the
 * member serves (the launcher and tests wait for it); SIGTERM/SIGINT stop it.
 */
export function registerRun(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const action = async (opts: { role?: string; config?: string }) => {
    if (opts.role && !(RUNTIME_ROLES as readonly string[]).includes(opts.role)) {
      io.err(`--role must be one of ${RUNTIME_ROLES.join(', ')} (got "${opts.role}")\n`);
      setExit(2);
      return;
    }
    try {
      const cfg = loadRuntimeConfig({ file: opts.config, env: process.env });
      if (opts.role && cfg.role !== opts.role) {
        io.err(`--role ${opts.role} does not match the config's role "${cfg.role}"\n`);
        setExit(2);
        return;
      }
      const started = await startRole(cfg);
      io.out(`${JSON.stringify({ ready: true, role: cfg.role, memberId: cfg.memberId, ...started })}\n`);
      setExit(0);
    } catch (err) {
      // A bad config, or a pair member whose other site holds the lease: the operator's to fix, named in the message.
      if (err instanceof FieldProblemsError || err instanceof LeaseHeldError) {
        io.err(`mailfleet run: ${err.message}\n`);
        setExit(1);
        return;
      }
      throw err;
    }
  };
  program
    .command('run')
    .description('run one cluster member (its role comes from the config)')
    .option('--role <role>', `expected role: ${RUNTIME_ROLES.join(', ')}`)
    .option('--config <file>', 'RuntimeConfig file (YAML or JSON); default $MAILFLEET_CONFIG, MAILFLEET_* variables override')
    .action(action);
  program
    .command('node')
    .description('run a mail node (same as `run --role node`)')
    .option('--config <file>', 'RuntimeConfig file')
    .action((opts: { config?: string }) => action({ role: 'node', config: opts.config }));
}
