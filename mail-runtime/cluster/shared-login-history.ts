import type { HistoryQuery, KeyHistory, LoginHistory } from '../auth';
import type { Logger } from '../common/log';
import type { RuntimeLimits } from '../config';
import { LOGIN_REPORT_MAX, LoginThrottleAnswer, type LoginFailuresReport } from '../hub/protocol';
import type { HubClient } from './hub-client';

/**
 * The login limiter's memory shared through the hub (issue 12): a member's
 * own LoginHistory stays the first line and answers alone while no hub is
 * reachable; the (user, client address) pairs' failures are also reported
 * to the hub (`POST /v1/cluster/login-failures`, batched: at once after a
 * failure, coalesced, and every `intervalMs` to learn the others'), which
 * answers every pair at its limit counted over all members. A read takes
 * the larger of the two counts — the hub's includes this member's once
 * reported, so nothing is counted twice — so guesses spread over proxies
 * are throttled as if they came through one.
 */
export interface SharedLoginHistoryOptions {
  local: LoginHistory;
  send(report: LoginFailuresReport): Promise<LoginThrottleAnswer>;
  memberId: string;
  windowMs: number;
  /** The per-pair limit (limits.loginFailuresPerUserAddress): pairs below it do not change a verdict. */
  atLeast: number;
  intervalMs: number;
  log: Logger;
  now?: () => number;
}

const PAIR = 'pair:';

export class SharedLoginHistory implements LoginHistory {
  /** Pairs at their limit cluster-wide, as of the last answer: count and when the latest failure was (this host's clock). */
  private remote = new Map<string, KeyHistory>();
  private failures: string[] = [];
  private forgiven: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** Something was asked for while a call was out: one more call after it. */
  private again = false;
  private readonly now: () => number;

  constructor(private readonly o: SharedLoginHistoryOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Pairs the hub last named at their limit. */
  get sharedPairs(): number {
    return this.remote.size;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    this.timer = this.soon = undefined;
  }

  async read(queries: readonly HistoryQuery[]): Promise<KeyHistory[]> {
    const local = await this.o.local.read(queries);
    const now = this.now();
    return local.map((l, i) => {
      const q = queries[i]!;
      const r = q.key.startsWith(PAIR) ? this.remote.get(q.key) : undefined;
      if (!r || r.last <= now - q.windowMs) return l;
      return { count: Math.max(l.count, r.count), last: Math.max(l.last, r.last) };
    });
  }

  async record(keys: readonly string[]): Promise<void> {
    await this.o.local.record(keys);
    const pairs = keys.filter((k) => k.startsWith(PAIR));
    if (pairs.length === 0) return;
    this.failures.push(...pairs);
    if (this.failures.length > LOGIN_REPORT_MAX) this.failures.splice(0, this.failures.length - LOGIN_REPORT_MAX);
    this.flushSoon();
  }

  async forget(keys: readonly string[]): Promise<void> {
    await this.o.local.forget(keys);
    const pairs = keys.filter((k) => k.startsWith(PAIR));
    if (pairs.length === 0) return;
    for (const k of pairs) this.remote.delete(k);
    this.forgiven.push(...pairs);
    if (this.forgiven.length > LOGIN_REPORT_MAX) this.forgiven.splice(0, this.forgiven.length - LOGIN_REPORT_MAX);
    this.flushSoon();
  }

  /** A report right after this turn of the event loop: failures of one burst go in one call. */
  private flushSoon(): void {
    this.soon ??= setTimeout(() => {
      this.soon = undefined;
      void this.flush();
    }, 0);
  }

  /** Sends what is pending and takes the hub's answer; one call at a time; on failure the pending entries wait for the next. */
  flush(): Promise<void> {
    if (this.flushing) {
      this.again = true;
      return this.flushing;
    }
    const failures = this.failures;
    const forgiven = this.forgiven;
    this.failures = [];
    this.forgiven = [];
    this.flushing = (async () => {
      try {
        const answer = await this.o.send({ memberId: this.o.memberId, failures, forgiven, windowMs: this.o.windowMs, atLeast: this.o.atLeast });
        const now = this.now();
        this.remote = new Map(answer.pairs.map((p) => [p.key, { count: p.count, last: now - p.ageMs }]));
      } catch (err) {
        // The hub is away: keep what was not delivered (bounded) and go on with the local counts.
        this.failures = [...failures, ...this.failures].slice(-LOGIN_REPORT_MAX);
        this.forgiven = [...forgiven, ...this.forgiven].slice(-LOGIN_REPORT_MAX);
        this.o.log.debug({ err: (err as Error).message }, 'login failures not reported to the hub');
      } finally {
        this.flushing = undefined;
        if (this.again) {
          this.again = false;
          void this.flush();
        }
      }
    })();
    return this.flushing;
  }
}

/** How often a member reports failed logins to the hub and learns the cluster's (also at once after a failure). */
const LOGIN_REPORT_INTERVAL_MS = 1000;
/** A report slower than this is dropped until the next one: logins never wait for it. */
const LOGIN_REPORT_TIMEOUT_MS = 2000;

/**
 * The one way a member shares its login limiter's memory through the hub
 * (proxies and nodes alike): pass the result as LoginLimiter's `history`;
 * `started()` gives the SharedLoginHistory once the limiter built it (for
 * metrics and `stop`). Reported over `client`, the member's hub client.
 */
export function hubLoginHistory(
  client: Pick<HubClient, 'call'>,
  o: { memberId: string; limits: Pick<RuntimeLimits, 'loginFailureWindowSeconds' | 'loginFailuresPerUserAddress'>; log: Logger },
): { history: (local: LoginHistory) => SharedLoginHistory; started: () => SharedLoginHistory | undefined } {
  let shared: SharedLoginHistory | undefined;
  return {
    history: (local) => {
      shared = new SharedLoginHistory({
        local,
        send: (report) => client.call('POST', '/v1/cluster/login-failures', report, LoginThrottleAnswer, LOGIN_REPORT_TIMEOUT_MS),
        memberId: o.memberId,
        windowMs: o.limits.loginFailureWindowSeconds * 1000,
        atLeast: o.limits.loginFailuresPerUserAddress,
        intervalMs: LOGIN_REPORT_INTERVAL_MS,
        log: o.log,
      });
      return shared;
    },
    started: () => shared,
  };
}
