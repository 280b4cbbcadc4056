import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { NodemailerError } from 'nodemailer/lib/errors';
import type { Logger } from '../../common/log';
import type { DeliveryResult } from '../queue';
import type { LmtpTarget } from '../routing';

/**
 * LMTP (RFC 2033) to the nodes, on nodemailer's SMTP client with
 * `lmtp: true`: its send() reports every recipient on its own (RCPT refusals
 * in `rejectedErrors`, then one reply per accepted recipient after DATA,
 * RFC 2033 §4.2), which is what exactly-once delivery per recipient needs.
 * Connections are kept per node and reused (RFC 2033 §4.1: a session
 * carries many transactions), so a burst of messages costs no handshakes.
 */
export interface LmtpDelivery {
  /** One result per recipient, in the order given. Never rejects: a node that cannot be reached is a deferral. */
  deliver(target: LmtpTarget, mailFrom: string, recipients: readonly string[], message: Buffer): Promise<DeliveryResult[]>;
  close(): Promise<void>;
}

export interface LmtpPoolOptions {
  /** Our name in LHLO (RuntimeConfig `hostname`). */
  hostname: string;
  /** Connections kept open per node at most (idle and busy). */
  maxPerTarget: number;
  log: Logger;
  /** Bounds of one attempt; a node that does not answer within them is a deferral. */
  connectTimeoutMs?: number;
  /** RFC 5321 §4.5.3.2.6 gives DATA termination 10 minutes; a node writes to shared storage, 5 is plenty. */
  socketTimeoutMs?: number;
}

interface Pooled {
  conn: SMTPConnection;
  /** Sent at least one message: a failure before the first byte may be an idle close by the server. */
  used: boolean;
  dead: boolean;
}

const keyOf = (t: LmtpTarget): string => `${t.host}:${t.port}`;

/** `451 4.4.1 …` for a failure without an SMTP reply (RFC 3463 4.4.1: no answer from host; 4.4.2: bad connection). */
function networkReply(target: LmtpTarget, err: NodemailerError): string {
  const what = err.code === 'ETIMEDOUT' ? '4.4.2 timed out' : '4.4.1 no answer';
  return `451 ${what} from ${target.memberId} (${keyOf(target)}): ${err.message}`.replace(/[\r\n]+/g, ' ');
}

/** An SMTP reply as a result: 2xx delivered, 4xx deferred, 5xx failed (RFC 5321 §4.2.1). */
export function resultOf(reply: string, code: number | undefined): DeliveryResult {
  const text = reply.replace(/[\r\n]+/g, ' ').trim();
  if (code !== undefined && code >= 200 && code < 300) return { status: 'delivered', reply: text };
  if (code !== undefined && code >= 500 && code < 600) return { status: 'failed', reply: text };
  return { status: 'deferred', reply: text };
}

export class LmtpPool implements LmtpDelivery {
  private readonly idle = new Map<string, Pooled[]>();
  private readonly open = new Map<string, number>();
  private readonly waiters = new Map<string, (() => void)[]>();
  private closed = false;

  constructor(private readonly opts: LmtpPoolOptions) {}

  async deliver(target: LmtpTarget, mailFrom: string, recipients: readonly string[], message: Buffer): Promise<DeliveryResult[]> {
    if (recipients.length === 0) return [];
    // One retry on a fresh connection when a reused one turns out to have been closed by the node.
    for (let attempt = 0; ; attempt++) {
      let pooled: Pooled;
      try {
        pooled = await this.acquire(target);
      } catch (err) {
        const reply = networkReply(target, err as NodemailerError);
        return recipients.map(() => ({ status: 'deferred', reply }));
      }
      const outcome = await this.send(pooled, mailFrom, recipients, message);
      if ('results' in outcome) {
        this.release(target, pooled);
        return outcome.results;
      }
      pooled.dead = true;
      this.release(target, pooled);
      if (attempt === 0 && pooled.used && outcome.beforeData) continue;
      const reply = networkReply(target, outcome.error);
      this.opts.log.warn({ node: target.memberId, address: keyOf(target), err: outcome.error.message }, 'LMTP delivery failed');
      return recipients.map(() => ({ status: 'deferred', reply }));
    }
  }

  private send(
    pooled: Pooled,
    mailFrom: string,
    recipients: readonly string[],
    message: Buffer,
  ): Promise<{ results: DeliveryResult[] } | { error: NodemailerError; beforeData: boolean }> {
    const wasUsed = pooled.used;
    pooled.used = true;
    return new Promise((resolve) => {
      pooled.conn.send({ from: mailFrom || false, to: [...recipients], size: message.length }, message, (err, info) => {
        if (!err && info) {
          const accepted = new Set(info.accepted);
          const refused = new Map((info.rejectedErrors ?? []).map((e) => [e.recipient ?? '', e]));
          const reply = (info.response ?? '250 2.1.5 delivered').replace(/[\r\n]+/g, ' ');
          resolve({
            results: recipients.map((r) => {
              const e = refused.get(r);
              if (e) return resultOf(e.response ?? e.message, e.responseCode);
              return accepted.has(r) ? { status: 'delivered', reply } : { status: 'deferred', reply: '451 4.3.0 no reply for this recipient' };
            }),
          });
          return;
        }
        const e = err as NodemailerError;
        if (e.code === 'EENVELOPE' || (e.code === 'EMESSAGE' && e.responseCode !== undefined)) {
          // The node answered: per recipient where it said so, else its one reply (MAIL FROM or DATA refused) for all.
          const refused = new Map((e.rejectedErrors ?? []).map((x) => [x.recipient ?? '', x]));
          const all = resultOf(e.response ?? e.message, e.responseCode);
          const results = recipients.map((r) => {
            const x = refused.get(r);
            return x ? resultOf(x.response ?? x.message, x.responseCode) : all;
          });
          // The session is still usable after a refused transaction (RSET, RFC 5321 §4.1.1.5).
          pooled.conn.reset((resetErr) => {
            if (resetErr) pooled.dead = true;
            resolve({ results });
          });
          return;
        }
        resolve({ error: e, beforeData: wasUsed && (e.code === 'ECONNECTION' || e.code === 'ESOCKET' || e.responseCode === 421) });
      });
    });
  }

  private async acquire(target: LmtpTarget): Promise<Pooled> {
    const key = keyOf(target);
    for (;;) {
      if (this.closed) throw Object.assign(new Error('LMTP client closed'), { code: 'ECONNECTION' });
      const idle = this.idle.get(key);
      while (idle && idle.length > 0) {
        const p = idle.pop()!;
        if (!p.dead) return p;
        this.drop(key);
      }
      if ((this.open.get(key) ?? 0) < this.opts.maxPerTarget) break;
      await new Promise<void>((r) => {
        const list = this.waiters.get(key) ?? [];
        list.push(r);
        this.waiters.set(key, list);
      });
    }
    this.open.set(key, (this.open.get(key) ?? 0) + 1);
    try {
      return await this.connect(target);
    } catch (err) {
      this.drop(key);
      throw err;
    }
  }

  private connect(target: LmtpTarget): Promise<Pooled> {
    const conn = new SMTPConnection({
      host: target.host,
      port: target.port,
      lmtp: true,
      name: this.opts.hostname,
      // Inside the cluster network; TLS between members comes with the hub's certificates (issue 12).
      ignoreTLS: true,
      connectionTimeout: this.opts.connectTimeoutMs ?? 10_000,
      greetingTimeout: this.opts.connectTimeoutMs ?? 10_000,
      socketTimeout: this.opts.socketTimeoutMs ?? 5 * 60_000,
      logger: false,
    });
    const pooled: Pooled = { conn, used: false, dead: false };
    return new Promise((resolve, reject) => {
      let settled = false;
      conn.on('error', (err: NodemailerError) => {
        pooled.dead = true;
        if (!settled) {
          settled = true;
          reject(err);
        }
      });
      conn.on('end', () => {
        pooled.dead = true;
      });
      conn.connect((err) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve(pooled);
      });
    });
  }

  private release(target: LmtpTarget, pooled: Pooled): void {
    const key = keyOf(target);
    if (pooled.dead || this.closed) {
      pooled.conn.close();
      this.drop(key);
      return;
    }
    const list = this.idle.get(key) ?? [];
    list.push(pooled);
    this.idle.set(key, list);
    this.wake(key);
  }

  /** A connection of `key` is gone: its slot is free. */
  private drop(key: string): void {
    this.open.set(key, Math.max(0, (this.open.get(key) ?? 1) - 1));
    this.wake(key);
  }

  private wake(key: string): void {
    const w = this.waiters.get(key)?.shift();
    if (w) w();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const list of this.idle.values()) for (const p of list) p.conn.quit();
    this.idle.clear();
    for (const list of this.waiters.values()) for (const w of list) w();
    this.waiters.clear();
  }
}
