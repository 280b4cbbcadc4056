import type { Command } from 'commander';
import { FieldProblemsError, loadRuntimeConfig, type RuntimeConfigOf } from '../../mail-runtime/config';
import { FailoverRefused, failback, pairStatus, promote, type FailoverEvent, type PairStatus } from '../../mail-runtime/failover';
import type { CliIo } from '../io';

/**
 * `mailfleet failover status|promote|failback --config <controller config>`:
 * the operator's side of a failover pair (issue 13). The config is the
 * failover controller's RuntimeConfig (shared storage, both members'
 * platforms, the traffic-switch hook), so the command does exactly what
 * the controller would. Exit 0: done; 1: refused or failed (the message
 * says why, nothing was changed when refused); 2: usage.
 */

class UsageError extends Error {}

function controllerConfig(file: string | undefined): RuntimeConfigOf<'failover-controller'> {
  if (!file && !process.env.MAILFLEET_CONFIG) throw new UsageError('give --config FILE: the failover controller\'s config (role failover-controller)');
  const cfg = loadRuntimeConfig({ file, env: process.env });
  if (cfg.role !== 'failover-controller') throw new UsageError(`--config is a "${cfg.role}" config; give the failover controller's (role failover-controller)`);
  return cfg;
}

function ago(iso: string): string {
  return `${((Date.now() - Date.parse(iso)) / 1000).toFixed(1)} s ago`;
}

function statusText(s: PairStatus): string {
  const lines = [
    `active: ${s.active}`,
    s.lease
      ? `lease: ${s.lease.holder}, epoch ${s.lease.epoch}, renewed ${ago(s.lease.renewedAt)} (${s.lease.fresh ? `fresh, ${s.lease.remainingMs} ms left` : 'lapsed'})`
      : 'lease: none (no member has started yet)',
    ...(s.lease && s.highestEpoch > s.lease.epoch ? [`epoch ${s.highestEpoch} was taken but not yet recorded in the lease (a takeover in progress)`] : []),
    `primary: ${s.power.primary.target}: ${s.power.primary.state}`,
    `standby: ${s.power.standby.target}: ${s.power.standby.state}`,
    s.events.length ? 'events (latest last):' : 'events: none',
    ...s.events.map((e) => `  ${e.at} ${e.kind}${e.active ? ` → ${e.active}` : ''}${e.epoch !== undefined ? ` epoch ${e.epoch}` : ''} ${e.ok ? 'ok' : 'FAILED'}: ${e.reason}`),
  ];
  return `${lines.join('\n')}\n`;
}

function eventText(e: FailoverEvent): string {
  const steps = e.steps.map((s) => `  ${s.ok ? 'ok    ' : 'FAILED'} ${s.step} (${s.ms} ms)${s.detail ? `: ${s.detail}` : ''}`);
  return `${e.kind} ${e.ok ? `done: ${e.active} active at epoch ${e.epoch}` : 'did not complete'}\n${steps.join('\n')}\n`;
}

export function registerFailover(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const run = async (what: () => Promise<void>) => {
    try {
      await what();
    } catch (err) {
      if (err instanceof UsageError) {
        io.err(`mailfleet failover: ${err.message}\n`);
        setExit(2);
        return;
      }
      if (err instanceof FailoverRefused || err instanceof FieldProblemsError) {
        io.err(`mailfleet failover: ${err.message}\n`);
        setExit(1);
        return;
      }
      throw err;
    }
  };
  const done = (ev: FailoverEvent) => {
    io.out(eventText(ev));
    if (!ev.ok) io.err('mailfleet failover: the event above says which step failed; it is recorded in events.jsonl\n');
    setExit(ev.ok ? 0 : 1);
  };
  const cmd = program.command('failover').description("a failover pair: the lease, the event log, manual promotion and failback (takes the failover controller's config)");
  cmd
    .command('status')
    .description('who holds the site lease, both members\' power state and the latest failover events')
    .option('--config <file>', 'the failover controller\'s RuntimeConfig')
    .option('--json', 'print JSON')
    .action((opts: { config?: string; json?: boolean }) =>
      run(async () => {
        const s = await pairStatus(controllerConfig(opts.config));
        io.out(opts.json ? `${JSON.stringify(s)}\n` : statusText(s));
        setExit(0);
      }),
    );
  cmd
    .command('promote')
    .description('fail over to the standby now: lease at a higher epoch, fence the primary, start the standby, run the traffic switch, record')
    .option('--config <file>', 'the failover controller\'s RuntimeConfig')
    .option('--force', 'promote even while the primary holds a fresh lease (it is fenced first)')
    .option('--reason <text>', 'recorded with the event', 'manual promotion')
    .action((opts: { config?: string; force?: boolean; reason: string }) =>
      run(async () => done(await promote(controllerConfig(opts.config), { force: opts.force === true, reason: opts.reason }))),
    );
  cmd
    .command('failback')
    .description('switch back to the repaired primary: stop the standby, lease to the primary, start it, traffic switch, record')
    .option('--config <file>', 'the failover controller\'s RuntimeConfig')
    .option('--reason <text>', 'recorded with the event', 'planned failback')
    .action((opts: { config?: string; reason: string }) => run(async () => done(await failback(controllerConfig(opts.config), { reason: opts.reason }))));
}
