/**
 * What `mailfleet failover status|promote|failback` does (cli/commands/
 * failover.ts formats it). The operator runs it with the controller's
 * config: the shared storage (lease, events.jsonl), both members' platform
 * power and the traffic-switch hook. promote and failback are the
 * controller's own steps (./controller.ts), driven by hand, after checks
 * that refuse an unsafe move with a message saying why.
 */
import { createLogger } from '../common/log';
import type { RuntimeConfigOf } from '../config';
import { FailoverController } from './controller';
import { EventLog, type FailoverEvent } from './events';
import { SiteLease, type LeaseRecord } from './lease';

type ControllerConfig = RuntimeConfigOf<'failover-controller'>;

/** A move refused before anything was changed. */
export class FailoverRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FailoverRefused';
  }
}

/** Events shown by `status` (the file keeps them all). */
const STATUS_EVENTS = 10;

export interface PairStatus {
  /** Which member holds the lease: primary, standby, or neither (no lease yet / an unknown holder). */
  active: 'primary' | 'standby' | 'none';
  lease?: LeaseRecord & { fresh: boolean; remainingMs: number };
  highestEpoch: number;
  power: Record<'primary' | 'standby', { target: string; state: string }>;
  events: FailoverEvent[];
}

function controller(cfg: ControllerConfig): FailoverController {
  // The operator reads the outcome from the event and the exit code; the steps log only problems.
  return new FailoverController(cfg, createLogger({ role: 'failover-cli', member: cfg.memberId }, 'error'));
}

function activeOf(cfg: ControllerConfig, lease: LeaseRecord | undefined): PairStatus['active'] {
  if (lease?.holder === cfg.primary.memberId) return 'primary';
  if (lease?.holder === cfg.standby.memberId) return 'standby';
  return 'none';
}

export async function pairStatus(cfg: ControllerConfig): Promise<PairStatus> {
  const ctl = controller(cfg);
  try {
    const lease = await ctl.lease.read();
    const state = (a: typeof ctl.primary) =>
      a.state().then(
        (s) => ({ target: a.target, state: s }),
        (e: unknown) => ({ target: a.target, state: `unknown (${e instanceof Error ? e.message : String(e)})` }),
      );
    const [primary, standby] = await Promise.all([state(ctl.primary), state(ctl.standby)]);
    return {
      active: activeOf(cfg, lease),
      ...(lease ? { lease: { ...lease, fresh: SiteLease.fresh(lease), remainingMs: SiteLease.remainingMs(lease) } } : {}),
      highestEpoch: await ctl.lease.highestEpoch(),
      power: { primary, standby },
      events: (await new EventLog(cfg.storage.path).read()).slice(-STATUS_EVENTS),
    };
  } finally {
    await ctl.close();
  }
}

/**
 * Manual failover to the standby. Refused while the primary holds a fresh
 * lease (it is serving) unless `force`: then the takeover's first step, the
 * lease at a higher epoch, fences it on storage at once (it stops
 * acknowledging at its next write check, and closes its listeners at its
 * next renewal), and the platform power-off follows before the standby starts.
 */
export async function promote(cfg: ControllerConfig, opts: { force: boolean; reason: string }): Promise<FailoverEvent> {
  const ctl = controller(cfg);
  try {
    const lease = await ctl.lease.read();
    if (lease?.holder === cfg.standby.memberId && (await ctl.lease.highestEpoch()) === lease.epoch) {
      throw new FailoverRefused(`the standby ${cfg.standby.memberId} already holds the lease (epoch ${lease.epoch}): nothing to promote`);
    }
    if (lease && lease.holder !== cfg.standby.memberId && SiteLease.fresh(lease) && !opts.force) {
      throw new FailoverRefused(
        `${lease.holder} holds a fresh lease (epoch ${lease.epoch}, renewed ${lease.renewedAt}): it is serving. ` +
          'Use --force to fence it and promote the standby anyway',
      );
    }
    return await ctl.takeover('promote', opts.reason);
  } finally {
    await ctl.close();
  }
}

/**
 * Planned switch back to the primary. Refused unless the standby is the
 * active side and the primary's platform answers (the site is repaired)
 * and reports it stopped (nothing serves from the old primary). The
 * standby is stopped, confirmed, before the primary gets the lease, so the
 * two never serve at once; mail the standby acknowledged is on the shared
 * storage, and its queue folder is taken over by the primary at start.
 */
export async function failback(cfg: ControllerConfig, opts: { reason: string }): Promise<FailoverEvent> {
  const ctl = controller(cfg);
  try {
    const lease = await ctl.lease.read();
    if (lease?.holder !== cfg.standby.memberId) {
      throw new FailoverRefused(`the standby ${cfg.standby.memberId} is not the active side (lease: ${lease ? `${lease.holder}, epoch ${lease.epoch}` : 'none'}): nothing to fail back`);
    }
    let state: string;
    try {
      state = await ctl.primary.state();
    } catch (e) {
      throw new FailoverRefused(`the primary's platform (${ctl.primary.target}) does not answer: ${e instanceof Error ? e.message : String(e)}; fail back once the primary site is repaired`);
    }
    if (state !== 'stopped') {
      throw new FailoverRefused(`the primary ${ctl.primary.target} is ${state}, not stopped: stop it first, so that only one site serves`);
    }
    return await ctl.failback(opts.reason);
  } finally {
    await ctl.close();
  }
}
