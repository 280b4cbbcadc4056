import { createTransport } from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../helpers/daemon';
import { startTestGateway, type TestGateway } from '../../helpers/gateway';
import { startLmtpSink, type LmtpSink, type LmtpSinkOptions } from '../../helpers/lmtp-sink';

/**
 * Delivery workers against an LMTP sink with per-recipient answers: what
 * was delivered is recorded before anything else happens to the entry, so a
 * recipient is never delivered twice; 4xx and unreachable nodes stay queued
 * with backoff; 5xx and expiry bounce through the DSN seam.
 */
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function sinkWith(reply?: LmtpSinkOptions['reply'], port?: number): Promise<LmtpSink> {
  const s = await startLmtpSink({ ...(reply ? { reply } : {}), ...(port ? { port } : {}) });
  cleanup.push(() => s.stop());
  return s;
}
async function gatewayTo(port: number, opts: Parameters<typeof startTestGateway>[0] = {}): Promise<TestGateway> {
  const g = await startTestGateway({ lmtpPort: port, ...opts });
  cleanup.push(() => g.dispose());
  return g;
}
async function send(g: TestGateway, to: string[], id: string, from = 'bench-sender@example.net'): Promise<void> {
  const t = createTransport({ host: '127.0.0.1', port: g.smtpPort, secure: false, ignoreTLS: true });
  await t.sendMail({ envelope: { from, to }, raw: `From: <${from}>\r\nTo: <${to[0]}>\r\nSubject: ${id}\r\nMessage-ID: <${id}@example.net>\r\n\r\nbody\r\n` });
  t.close();
}
describe('per-recipient results (RFC 2033 §4.2)', () => {
  it('a deferred recipient is retried alone; the delivered one is never delivered again', async () => {
    let bobTries = 0;
    const sink = await sinkWith((rcpt) => (rcpt === 'bob@example.com' && ++bobTries < 3 ? { code: 452, text: 'mailbox busy' } : 'ok'));
    const g = await gatewayTo(sink.port, { config: { queue: { retryFirstSeconds: 1, retryMaxSeconds: 1 } } });
    await send(g, ['alice@example.com', 'bob@example.com'], 'partial');
    await sink.waitFor(2, 30_000);
    await g.runner.idle();
    expect(sink.deliveries.map((d) => d.rcpt).sort()).toEqual(['alice@example.com', 'bob@example.com']);
    expect(bobTries).toBe(3);
    expect(await g.queue.ids()).toEqual([]);
  });

  it('the deferral is on disk with its attempt count, reply and next attempt', async () => {
    const sink = await sinkWith((rcpt) => (rcpt === 'bob@example.com' ? { code: 450, text: 'try later' } : 'ok'));
    const g = await gatewayTo(sink.port, { config: { queue: { retryFirstSeconds: 3600 } } });
    await send(g, ['alice@example.com', 'bob@example.com'], 'deferred');
    await sink.waitFor(1);
    await g.runner.idle();
    const [id] = await g.queue.ids();
    const e = await g.queue.read(id!);
    expect(e.recipients).toEqual([
      expect.objectContaining({ address: 'alice@example.com', status: 'delivered', attempts: 1 }),
      expect.objectContaining({ address: 'bob@example.com', status: 'pending', attempts: 1, lastReply: expect.stringMatching(/^450 /) }),
    ]);
    const wait = Date.parse(e.nextAttemptAt!) - Date.now();
    expect(wait).toBeGreaterThan(3000 * 1000 - 60_000);
  });

  it('5xx fails the recipient and queues a DSN to the sender through the DSN seam; no DSN for the null sender', async () => {
    const sink = await sinkWith((rcpt) => (rcpt === 'bob@example.com' ? { code: 552, text: 'over quota' } : 'ok'));
    const dsns: { to: string; failed: string[] }[] = [];
    const g = await gatewayTo(sink.port, {
      over: {
        buildDsn: ({ entry, failed }) => {
          dsns.push({ to: entry.mailFrom, failed: failed.map((f) => `${f.address} ${f.reply.slice(0, 3)}`) });
          return Buffer.from(`From: MAILER-DAEMON@mx.test\r\nTo: <${entry.mailFrom}>\r\nSubject: Undelivered\r\nMessage-ID: <dsn-${entry.id}@mx.test>\r\n\r\nbob failed\r\n`);
        },
      },
    });
    // The sender is hosted, so the DSN comes back through the same sink.
    await send(g, ['bob@example.com'], 'bounced', 'alice@example.com');
    await sink.waitFor(1, 30_000);
    await g.runner.idle();
    expect(dsns).toEqual([{ to: 'alice@example.com', failed: ['bob@example.com 552'] }]);
    expect(sink.deliveries).toEqual([expect.objectContaining({ rcpt: 'alice@example.com', mailFrom: '', messageId: expect.stringMatching(/^<dsn-/) })]);
    // A bounce of a bounce is never sent (RFC 5321 §4.5.5).
    await send(g, ['bob@example.com'], 'null-sender', '');
    await g.runner.idle();
    expect(dsns).toHaveLength(1);
    expect(await g.queue.ids()).toEqual([]);
  });

  it('expiry fails what is still pending with 5.4.7 and bounces it', async () => {
    const failed: string[] = [];
    const g = await gatewayTo(await freePort(), {
      config: { queue: { retryFirstSeconds: 1, retryMaxSeconds: 1, expireHours: 0.001 } },
      over: {
        buildDsn: ({ failed: f }) => {
          failed.push(...f.map((x) => x.reply));
          return Buffer.from('Subject: expired\r\n\r\nx\r\n');
        },
      },
    });
    await send(g, ['alice@example.com'], 'expires', 'someone@remote.example');
    // Wait for the expiry to be processed (bounded; the runner schedules it at expiresAt).
    for (let i = 0; i < 200 && failed.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(failed).toEqual([expect.stringMatching(/^550 5\.4\.7 not delivered before the queue lifetime ran out \(last reply: 451 4\.4\.1 /)]);
  });
});

describe('nothing is dropped when the node is down', () => {
  it('mail for a node that is down stays queued and is delivered when the node is back', async () => {
    const port = await freePort();
    const g = await gatewayTo(port, { config: { queue: { retryFirstSeconds: 1, retryMaxSeconds: 2 } } });
    for (let i = 0; i < 5; i++) await send(g, ['alice@example.com'], `while-down-${i}`);
    await g.runner.idle();
    expect((await g.queue.ids()).length).toBe(5);
    const entry = await g.queue.read((await g.queue.ids())[0]!);
    expect(entry.recipients[0]!.lastReply).toMatch(/^451 4\.4\.1 no answer from test-node-0 \(127\.0\.0\.1:\d+\): connect ECONNREFUSED/);
    const sink = await sinkWith(undefined, port);
    await sink.waitFor(5, 30_000);
    await g.runner.idle();
    expect([...sink.counts().values()]).toEqual([1, 1, 1, 1, 1]);
    expect(await g.queue.ids()).toEqual([]);
  });
});

describe('recording the results holds no delivery slot (issue 14)', () => {
  /** Holds the gateway's recording of finished entries (queue remove) until `release()`; counts the recordings held. */
  function holdRecords(g: TestGateway, which: (nth: number) => boolean): { release: () => void; held: () => number } {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const remove = g.queue.remove.bind(g.queue);
    let calls = 0;
    let held = 0;
    g.queue.remove = async (id: string): Promise<void> => {
      if (which(calls++)) {
        held++;
        await gate;
      }
      return remove(id);
    };
    return { release, held: () => held };
  }
  const pollUntil = async (what: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> => {
    for (const end = Date.now() + ms; !(await what()) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
  };

  it('with one slot, the next entry is delivered while the previous one still records; each once, both recorded', async () => {
    const sink = await sinkWith();
    const g = await gatewayTo(sink.port, { config: { queue: { deliveryConcurrency: 1 } } });
    const hold = holdRecords(g, (nth) => nth === 0);
    await send(g, ['alice@example.com'], 'first');
    await sink.waitFor(1);
    await pollUntil(() => hold.held() === 1);
    await send(g, ['alice@example.com'], 'second');
    // The only slot is free although the first entry's record is still pending.
    await sink.waitFor(2, 10_000);
    expect(sink.deliveries.map((d) => d.messageId)).toEqual(['<first@example.net>', '<second@example.net>']);
    // The second is recorded; the first is still queued (its record is held), and not attempted again meanwhile.
    await pollUntil(async () => (await g.queue.ids()).length === 1);
    expect(await g.queue.ids()).toHaveLength(1);
    hold.release();
    await g.runner.idle();
    expect(await g.queue.ids()).toEqual([]);
    expect([...sink.counts().values()]).toEqual([1, 1]);
  });

  it('recordings without a slot are bounded by the concurrency: past it an attempt keeps its slot', async () => {
    const sink = await sinkWith();
    const g = await gatewayTo(sink.port, { config: { queue: { deliveryConcurrency: 1 } } });
    const hold = holdRecords(g, () => true);
    for (const id of ['one', 'two', 'three']) await send(g, ['alice@example.com'], id);
    await sink.waitFor(2, 10_000);
    await pollUntil(() => hold.held() === 2);
    // One recording without a slot, one in the only slot: the third entry waits.
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.deliveries).toHaveLength(2);
    expect(await g.queue.ids()).toHaveLength(3);
    hold.release();
    await sink.waitFor(3, 10_000);
    await g.runner.idle();
    expect(await g.queue.ids()).toEqual([]);
    expect([...sink.counts().values()]).toEqual([1, 1, 1]);
  });
});
