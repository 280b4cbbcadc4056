import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LineClient } from '../../helpers/line-client';
import { ANN, BEN, dataBlock, imapMessages, mail, smtpConnect, smtpReply, spawnSmtpNode, writeMailUsers } from '../../helpers/smtp';

/**
 * DESIGN.md: LMTP 250 only once the message is durable. Several gateways'
 * worth of LMTP connections deliver a stream of two-recipient messages;
 * the node is killed -9 in the middle; after a restart on the same storage
 * every (Message-ID, recipient) that got its 250 is in that mailbox.
 */
let dir: string;
let running: Awaited<ReturnType<typeof spawnSmtpNode>> | undefined;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-lmtp-crash-'));
  await writeMailUsers(join(dir, 'users.yaml'), [ANN, BEN]);
});
afterAll(async () => {
  running?.child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

const CONNECTIONS = 4;
/** Per connection: enough that the kill lands mid-stream, bounded whatever happens. */
const PER_CONNECTION = 150;
const KILL_AFTER_ACKS = 60;

describe('kill -9 during LMTP deliveries', () => {
  it('keeps every acknowledged recipient’s message', { timeout: 180_000 }, async () => {
    running = await spawnSmtpNode(dir);
    const node = running;
    const acked = new Set<string>();
    let killed = false;
    const kill = (): void => {
      if (killed) return;
      killed = true;
      node.child.kill('SIGKILL');
    };
    const deliverLoop = async (conn: number): Promise<void> => {
      let c: LineClient | undefined;
      try {
        c = (await smtpConnect(node.lmtpPort)).c;
        c.send('LHLO gw.test');
        await smtpReply(c);
        for (let i = 0; i < PER_CONNECTION; i++) {
          const id = `<crash-${conn}-${i}@example.net>`;
          // PIPELINING (RFC 2920): the envelope in one write, then the message after 354.
          c.write(`MAIL FROM:<sender@example.net>\r\nRCPT TO:<${ANN.address}>\r\nRCPT TO:<${BEN.address}>\r\nDATA\r\n`);
          for (let r = 0; r < 4; r++) await smtpReply(c, 30_000);
          c.write(dataBlock(mail({ subject: `crash ${conn}/${i}`, messageId: id, body: `${'body line\r\n'.repeat(30 + (i % 40))}` })));
          for (const rcpt of [ANN.address, BEN.address]) {
            const line = (await smtpReply(c, 30_000)).join('\n');
            if (line.startsWith('250 ')) acked.add(`${id} ${rcpt}`);
          }
          if (acked.size >= KILL_AFTER_ACKS * 2) kill();
        }
      } catch {
        // The node is gone: every reply that arrived before the close was read above.
      } finally {
        c?.close();
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => deliverLoop(i)));
    kill();
    await node.exited;
    expect(acked.size).toBeGreaterThanOrEqual(KILL_AFTER_ACKS * 2);
    expect(acked.size).toBeLessThan(CONNECTIONS * PER_CONNECTION * 2); // the kill really happened mid-stream

    running = await spawnSmtpNode(dir);
    const present = new Set<string>();
    for (const user of [ANN, BEN]) {
      for (const m of await imapMessages(running.imapPort, user)) {
        const id = /^Message-ID: (<[^>]+>)/im.exec(m)?.[1];
        if (id) present.add(`${id} ${user.address}`);
      }
    }
    const missing = [...acked].filter((k) => !present.has(k));
    expect(missing).toEqual([]);
    running.child.kill('SIGTERM');
    await running.exited;
    running = undefined;
  });
});
