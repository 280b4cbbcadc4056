import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../helpers/daemon';
import { gatewayConfig, spawnGateway, writeGatewayUsers, type SpawnedGateway } from '../../helpers/gateway';
import { startLmtpSink, type LmtpSink } from '../../helpers/lmtp-sink';

/**
 * Durable acknowledgement, proven the hard way: the gateway runs as its own
 * process (`mailfleet run --role gateway`), 16 senders deliver a batch,
 * and the moment the last 250 arrives the process is killed with SIGKILL
 * (nothing flushed, no shutdown). A new process on the same storage must
 * then deliver every acknowledged message; the sink counts Message-IDs.
 */
const SENDERS = 16;
const MESSAGES = 160;
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
});

/** 16 senders share MESSAGES messages; resolves with the Message-IDs that got a 250. */
async function sendBatch(port: number, tag: string): Promise<string[]> {
  const accepted: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: SENDERS }, async () => {
      const t = createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, pool: false });
      try {
        for (let i = next++; i < MESSAGES; i = next++) {
          const id = `<${tag}-${i}@example.net>`;
          const info = await t.sendMail({
            envelope: { from: 'bench-sender@example.net', to: ['alice@example.com'] },
            raw: `From: <bench-sender@example.net>\r\nTo: <alice@example.com>\r\nSubject: ${tag} ${i}\r\nMessage-ID: ${id}\r\n\r\n${'durable '.repeat(100)}\r\n`,
          });
          if (/^250 /.test(info.response)) accepted.push(id);
        }
      } finally {
        t.close();
      }
    }),
  );
  return accepted;
}

async function setUp(): Promise<{ dir: string; nodePort: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'mf-durable-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  await writeGatewayUsers(join(dir, 'users.yaml'));
  return { dir, nodePort: await freePort() };
}

async function start(dir: string, nodePort: number): Promise<SpawnedGateway> {
  const g = await spawnGateway(dir, gatewayConfig(dir, nodePort, { queue: { retryFirstSeconds: 1, retryMaxSeconds: 2 }, inbound: { messagesPerAddressPerMinute: 100_000 } }));
  cleanup.push(() => g.stop());
  return g;
}

async function sinkOn(port: number): Promise<LmtpSink> {
  const s = await startLmtpSink({ port });
  cleanup.push(() => s.stop());
  return s;
}

describe('kill -9 right after a batch of 250 replies', () => {
  it('node down while the batch is accepted: after the restart every accepted message is delivered exactly once', async () => {
    const { dir, nodePort } = await setUp();
    const first = await start(dir, nodePort);
    const accepted = await sendBatch(first.smtpPort, 'down');
    await first.kill();
    expect(accepted).toHaveLength(MESSAGES);

    const sink = await sinkOn(nodePort);
    await start(dir, nodePort);
    await sink.waitFor(MESSAGES, 60_000);
    const counts = sink.counts();
    expect([...counts.keys()].sort()).toEqual([...accepted].sort());
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  }, 300_000);

  it('node up, deliveries in flight at the kill: nothing accepted is lost; only an attempt the node had answered but the gateway had not yet recorded can repeat', async () => {
    const { dir, nodePort } = await setUp();
    const sink = await sinkOn(nodePort);
    const first = await start(dir, nodePort);
    const accepted = await sendBatch(first.smtpPort, 'up');
    await first.kill();
    expect(accepted).toHaveLength(MESSAGES);

    await start(dir, nodePort);
    // Every accepted message arrives (waits for all MESSAGES distinct ids, bounded).
    for (let i = 0; i < 600 && sink.counts().size < MESSAGES; i++) await new Promise((r) => setTimeout(r, 100));
    const counts = sink.counts();
    expect([...counts.keys()].sort()).toEqual([...accepted].sort());
    // The window between the node's 250 and our durable record is one attempt per delivery slot (queue.deliveryConcurrency, 16).
    const repeated = [...counts.values()].filter((n) => n > 1).length;
    expect([...counts.values()].every((n) => n <= 2)).toBe(true);
    expect(repeated).toBeLessThanOrEqual(16);
  }, 300_000);

  it('killed in the middle of the load, commits in flight: every message that got its 250 before the kill is delivered', async () => {
    const { dir, nodePort } = await setUp();
    const first = await start(dir, nodePort);
    // Senders keep going until the kill breaks their connections; the kill comes once 48 are acknowledged.
    const accepted: string[] = [];
    let killed: Promise<void> | undefined;
    let next = 0;
    await Promise.all(
      Array.from({ length: SENDERS }, async () => {
        const t = createTransport({ host: '127.0.0.1', port: first.smtpPort, secure: false, ignoreTLS: true, pool: false });
        try {
          for (let i = next++; i < 2000 && !killed; i = next++) {
            const id = `<mid-${i}@example.net>`;
            const info = await t.sendMail({
              envelope: { from: 'bench-sender@example.net', to: ['alice@example.com'] },
              raw: `From: <bench-sender@example.net>\r\nTo: <alice@example.com>\r\nSubject: mid ${i}\r\nMessage-ID: ${id}\r\n\r\n${'durable '.repeat(1000)}\r\n`,
            });
            if (/^250 /.test(info.response)) accepted.push(id);
            if (accepted.length >= 48) killed ??= first.kill();
          }
        } catch {
          // The connection broke at the kill: that message got no 250, so nothing was promised.
        } finally {
          t.close();
        }
      }),
    );
    await killed;
    expect(accepted.length).toBeGreaterThanOrEqual(48);

    const sink = await sinkOn(nodePort);
    await start(dir, nodePort);
    // Bounded wait for every acknowledged id (the sink may also get unacknowledged ones, so its count alone says little).
    for (let i = 0; i < 600 && !accepted.every((id) => sink.counts().has(id)); i++) await new Promise((r) => setTimeout(r, 100));
    const counts = sink.counts();
    // Messages without a 250 may or may not be there (RFC 5321 §6.1 promises nothing for them); every acknowledged one is.
    for (const id of accepted) expect(counts.get(id), id).toBe(1);
  }, 300_000);
});
