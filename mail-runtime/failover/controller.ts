import type { Logger } from '../common/log';
import type { RuntimeConfigOf } from '../config';
import { EventLog, type FailoverEvent, type StepRecord } from './events';
import { SiteLease } from './lease';
import { powerAdapter, type PowerAdapter } from './power';
import { probeHealth, probeImap, probeSmtp, type ProbeResult } from './probes';
import { runTrafficSwitch } from './traffic-switch';

export type ControllerConfig = RuntimeConfigOf<'failover-controller'>;

/** watching: probing the primary; alerted: manual mode saw an outage; failed-over: the standby is active. */
export type ControllerState = 'watching' | 'alerted' | 'failing-over' | 'failed-over' | 'failover-failed';

export interface ControllerStatus {
  state: ControllerState;
  rounds: number;
  failedRounds: number;
  /** Failed rounds inside the hysteresis window now. */
  recentFailures: number;
  lastProbe: ProbeResult[];
}

/** Sliding window of failed probe rounds: N failures within T, latest round failed (hysteresis against flapping). */
export class Hysteresis {
  private failures: number[] = [];
  constructor(
    private readonly threshold: number,
    private readonly windowMs: number,
  ) {}
  /** Records a round; true when the outage is confirmed. */
  record(ok: boolean, now: number): boolean {
    this.failures = this.failures.filter((t) => now - t < this.windowMs);
    if (ok) return false;
    this.failures.push(now);
    return this.failures.length >= this.threshold;
  }
  get recent(): number {
    return this.failures.length;
  }
}

async function timed(step: StepRecord['step'], steps: StepRecord[], fn: () => Promise<string | undefined>): Promise<boolean> {
  const t0 = Date.now();
  try {
    const detail = await fn();
    steps.push({ step, ok: true, ms: Date.now() - t0, ...(detail ? { detail } : {}) });
    return true;
  } catch (e) {
    steps.push({ step, ok: false, ms: Date.now() - t0, detail: e instanceof Error ? e.message : String(e) });
    return false;
  }
}

/**
 * The failover controller of a pair. Probes the primary each interval;
 * once the outage is confirmed it (1) takes the site lease with a higher
 * epoch, (2) fences the primary through its platform, (3) starts the
 * standby, (4) runs the traffic switch, (5) records the event. In manual
 * mode it only records an alert. promote() and failback() are the same
 * steps driven by an operator (`mailfleet failover`).
 */
export class FailoverController {
  readonly lease: SiteLease;
  readonly events: EventLog;
  readonly primary: PowerAdapter;
  readonly standby: PowerAdapter;
  private readonly hysteresis: Hysteresis;
  private st: ControllerStatus = { state: 'watching', rounds: 0, failedRounds: 0, recentFailures: 0, lastProbe: [] };
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Probe rounds and failures, for /metrics. */
  onRound?: (ok: boolean) => void;

  constructor(
    private readonly cfg: ControllerConfig,
    private readonly log: Logger,
    adapters?: { primary: PowerAdapter; standby: PowerAdapter },
  ) {
    this.lease = new SiteLease(cfg.storage.path, cfg.leaseTtlMs);
    this.events = new EventLog(cfg.storage.path);
    this.primary = adapters?.primary ?? powerAdapter(cfg.primary.power);
    this.standby = adapters?.standby ?? powerAdapter(cfg.standby.power);
    this.hysteresis = new Hysteresis(cfg.failureThreshold, cfg.failureWindowMs);
  }

  status(): ControllerStatus {
    return { ...this.st, recentFailures: this.hysteresis.recent };
  }

  /** One probe round: every configured probe at once, each bounded by probeTimeoutMs. */
  async probeOnce(): Promise<ProbeResult[]> {
    const { smtp, imap, health } = this.cfg.probes;
    const t = this.cfg.probeTimeoutMs;
    return Promise.all([smtp ? probeSmtp(smtp, t) : undefined, imap ? probeImap(imap, t) : undefined, health ? probeHealth(health, t) : undefined].filter((p): p is Promise<ProbeResult> => p !== undefined));
  }

  /** Starts watching the primary. */
  start(): void {
    const loop = async () => {
      if (this.stopped) return;
      const began = Date.now();
      await this.round();
      if (this.stopped || this.st.state === 'failed-over' || this.st.state === 'failing-over') return;
      this.timer = setTimeout(() => void loop(), Math.max(0, this.cfg.probeIntervalMs - (Date.now() - began)));
    };
    void loop();
  }

  private async round(): Promise<void> {
    const results = await this.probeOnce();
    const ok = results.every((r) => r.ok);
    this.st.rounds++;
    if (!ok) this.st.failedRounds++;
    this.st.lastProbe = results;
    this.onRound?.(ok);
    const confirmed = this.hysteresis.record(ok, Date.now());
    if (!ok) this.log.warn({ probes: results.filter((r) => !r.ok), recent: this.hysteresis.recent }, 'primary probe failed');
    if (ok && this.st.state === 'alerted') this.st.state = 'watching';
    if (!confirmed || this.st.state !== 'watching') return;
    const reason = `${this.hysteresis.recent} failed probe rounds within ${this.cfg.failureWindowMs} ms: ${results
      .filter((r) => !r.ok)
      .map((r) => `${r.probe} ${r.detail ?? 'failed'}`)
      .join('; ')}`;
    if (this.cfg.mode === 'manual') {
      this.st.state = 'alerted';
      this.log.error({ reason }, 'primary is down; manual mode: run `mailfleet failover promote` to fail over');
      await this.events.append({ at: new Date().toISOString(), kind: 'alert', reason, ok: true, steps: [] });
      return;
    }
    this.st.state = 'failing-over';
    const ev = await this.takeover('failover', reason);
    this.st.state = ev.ok ? 'failed-over' : 'failover-failed';
  }

  /**
   * The takeover steps. A fence through the platform that fails (the primary
   * site's API is down with the site) does not stop the takeover once the
   * old holder's lease has run out: the storage lease is then the fence (the
   * primary stops serving when it cannot renew).
   */
  async takeover(kind: 'failover' | 'promote', reason: string): Promise<FailoverEvent> {
    const steps: StepRecord[] = [];
    const before = await this.lease.read().catch(() => undefined);
    let epoch: number | undefined;
    const done = async (ok: boolean): Promise<FailoverEvent> => {
      const ev: FailoverEvent = { at: new Date().toISOString(), kind, reason, active: ok ? 'standby' : undefined, epoch, ok, steps };
      await this.events.append(ev);
      if (ok) this.log.warn({ ev }, 'failed over to the standby');
      else this.log.error({ ev }, 'failover did not complete');
      return ev;
    };
    if (
      !(await timed('lease', steps, async () => {
        epoch = (await this.lease.take(this.cfg.standby.memberId)).epoch;
        return `epoch ${epoch} for ${this.cfg.standby.memberId}`;
      }))
    )
      return done(false);
    const fenced = await timed('fence', steps, async () => {
      await this.primary.powerOff();
      return `${this.primary.target} stopped`;
    });
    if (!fenced) {
      const wait = before && before.holder !== this.cfg.standby.memberId ? SiteLease.remainingMs(before) : 0;
      const ok = await timed('fence', steps, async () => {
        await new Promise((r) => setTimeout(r, wait));
        return `platform fence failed; the old holder's lease ran out (waited ${wait} ms): storage lease fences it`;
      });
      if (!ok) return done(false);
    }
    if (
      !(await timed('start', steps, async () => {
        await this.standby.powerOn();
        return `${this.standby.target} running`;
      }))
    )
      return done(false);
    if (this.cfg.trafficSwitch) {
      await timed('traffic-switch', steps, () =>
        runTrafficSwitch(this.cfg.trafficSwitch!, { active: 'standby', memberId: this.cfg.standby.memberId, epoch: epoch! }, this.cfg.trafficSwitchTimeoutMs),
      );
    }
    // The standby serves even when the traffic switch failed: the event says so, and an operator retries the switch.
    return done(true);
  }

  /**
   * Planned switch back to the repaired primary: the standby is stopped
   * (confirmed) before the primary gets the lease and starts, so the two
   * never serve at once and every acknowledged message is on the shared
   * storage the primary reads.
   */
  async failback(reason: string): Promise<FailoverEvent> {
    const steps: StepRecord[] = [];
    let epoch: number | undefined;
    const ok =
      (await timed('stop-standby', steps, async () => {
        await this.standby.powerOff();
        return `${this.standby.target} stopped`;
      })) &&
      (await timed('lease', steps, async () => {
        epoch = (await this.lease.take(this.cfg.primary.memberId)).epoch;
        return `epoch ${epoch} for ${this.cfg.primary.memberId}`;
      })) &&
      (await timed('start', steps, async () => {
        await this.primary.powerOn();
        return `${this.primary.target} running`;
      }));
    if (ok && this.cfg.trafficSwitch) {
      await timed('traffic-switch', steps, () =>
        runTrafficSwitch(this.cfg.trafficSwitch!, { active: 'primary', memberId: this.cfg.primary.memberId, epoch: epoch! }, this.cfg.trafficSwitchTimeoutMs),
      );
    }
    const ev: FailoverEvent = { at: new Date().toISOString(), kind: 'failback', reason, active: ok ? 'primary' : undefined, epoch, ok, steps };
    await this.events.append(ev);
    return ev;
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.all([this.primary.close(), this.standby.close()]);
  }
}
