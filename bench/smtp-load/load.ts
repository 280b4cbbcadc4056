/**
 * `smtpLoad()`: the SMTP load driver every SMTP comparison uses, for
 * mailfleet's gateway and for the Postfix → Dovecot LMTP anchor alike.
 * `senders` connections each send transactions back to back (one message,
 * one recipient each, PIPELINING where offered) until `count` messages are
 * done or `timeLimit` ms have passed. Acceptance latency is from MAIL FROM
 * to the final reply to the end of DATA; with `visible`, an IMAP IDLE
 * watcher per recipient also records when each message was announced
 * (EXISTS), from the same start: time-to-visible-in-IMAP.
 */
import { randomBytes } from 'node:crypto';
import { SmtpConn } from './smtp-client';
import { VisibilityWatcher } from './watcher';

export interface SmtpLoadOptions {
  host: string;
  port: number;
  /** Size in bytes of each message (headers + body), e.g. 10_240 or 102_400. */
  messageSize: number;
  /** Concurrent connections (the figure is 16). */
  senders?: number;
  /** Upper bound on messages sent. */
  count: number;
  /** Upper bound on the sending time, ms. */
  timeLimit: number;
  /** Envelope sender (default `load@client.example`). */
  from?: string;
  /** Recipients, used round-robin; each message has one. */
  to: readonly string[];
  /** When given: watch each recipient's INBOX over IMAP IDLE for time-to-visible. Logins for every address in `to`. */
  visible?: { port: number; users: ReadonlyArray<{ address: string; password: string }>; waitMs?: number };
}

export interface Percentiles {
  p50: number;
  p99: number;
  n: number;
}

export interface SmtpLoadFigures {
  messageSize: number;
  senders: number;
  /** Messages answered 250 to the end of DATA. */
  accepted: number;
  /** Transactions answered otherwise (or failed on the wire); the first few replies are in `errors`. */
  failed: number;
  errors: string[];
  ms: number;
  /** accepted / elapsed seconds. */
  perSecond: number;
  acceptMs: Percentiles;
  /** Absent without `visible`; `n` short of `accepted` when some never showed within `waitMs`. */
  visibleMs?: Percentiles;
}

/** Nearest-rank percentile (q in 0..1) of unsorted values; NaN for none. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

const pct = (xs: readonly number[]): Percentiles => ({ p50: percentile(xs, 0.5), p99: percentile(xs, 0.99), n: xs.length });

/** Plain-text lines of 76 characters, none starting with a dot (so no dot-stuffing is needed). */
function filler(bytes: number): string {
  const line = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor\r\n'; // 78 octets with CRLF
  const full = Math.max(0, Math.floor(bytes / line.length));
  const rest = Math.max(0, bytes - full * line.length - 2);
  return line.repeat(full) + (rest > 0 ? `${'x'.repeat(rest)}\r\n` : '');
}

/** A message of exactly `size` octets (when size allows the headers), its Message-ID naming run and number. */
export function loadMessage(run: string, k: number, size: number, from: string, to: string): string {
  const head =
    `From: <${from}>\r\nTo: <${to}>\r\nSubject: smtp load ${k}\r\nDate: ${new Date().toUTCString().replace('GMT', '+0000')}\r\n` +
    `Message-ID: <smtpload-${run}-${k}@bench.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n`;
  return head + filler(size - head.length);
}

export async function smtpLoad(opts: SmtpLoadOptions): Promise<SmtpLoadFigures> {
  const senders = opts.senders ?? 16;
  const from = opts.from ?? 'load@client.example';
  if (opts.to.length === 0) throw new Error('smtpLoad: `to` needs at least one recipient');
  if (!(opts.count > 0) || !(opts.timeLimit > 0)) throw new Error('smtpLoad: count and timeLimit must be positive (every load loop is bounded)');
  const run = randomBytes(4).toString('hex');

  const watchers: VisibilityWatcher[] = [];
  if (opts.visible) {
    for (const address of new Set(opts.to)) {
      const user = opts.visible.users.find((u) => u.address === address);
      if (!user) throw new Error(`smtpLoad: no IMAP login for recipient ${address}`);
      watchers.push(await VisibilityWatcher.start(opts.visible.port, user, run));
    }
  }

  let conns: SmtpConn[];
  try {
    const opened = await Promise.allSettled(Array.from({ length: senders }, (_, i) => SmtpConn.open(opts.host, opts.port, `sender${i}.client.example`)));
    const bad = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    conns = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    if (bad) {
      for (const c of conns) c.close();
      throw bad.reason;
    }
  } catch (err) {
    // No load without every sender: close the watchers too, so nothing is left open.
    await Promise.all(watchers.map((w) => w.finish(() => true, 0)));
    throw err;
  }
  const startedAt = new Map<number, number>();
  const accept: number[] = [];
  const errors: string[] = [];
  let failed = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async (c: SmtpConn): Promise<void> => {
    while (next < opts.count && performance.now() - t0 < opts.timeLimit) {
      const k = next++;
      const to = opts.to[k % opts.to.length];
      const data = loadMessage(run, k, opts.messageSize, from, to);
      const t = performance.now();
      startedAt.set(k, t);
      try {
        const r = await c.send(from, to, data);
        if (r.code === 250) accept.push(performance.now() - t);
        else {
          failed++;
          if (errors.length < 5) errors.push(`${r.code} ${r.lines.join(' ')}`);
          startedAt.delete(k);
        }
      } catch (err) {
        failed++;
        startedAt.delete(k);
        if (errors.length < 5) errors.push((err as Error).message);
        return; // this connection is unusable
      }
    }
  };
  await Promise.all(conns.map(worker));
  const ms = performance.now() - t0;
  await Promise.all(conns.map((c) => c.quit()));

  const figures: SmtpLoadFigures = {
    messageSize: opts.messageSize,
    senders,
    accepted: accept.length,
    failed,
    errors,
    ms,
    perSecond: (accept.length * 1000) / ms,
    acceptMs: pct(accept),
  };
  if (opts.visible) {
    const seenCount = (): number => watchers.reduce((n, w) => n + w.seenAt.size, 0);
    await Promise.all(watchers.map((w) => w.finish(() => seenCount() >= startedAt.size, opts.visible?.waitMs ?? 30_000)));
    const vis: number[] = [];
    for (const w of watchers) for (const [k, at] of w.seenAt) if (startedAt.has(k)) vis.push(at - (startedAt.get(k) as number));
    figures.visibleMs = pct(vis);
  }
  return figures;
}

