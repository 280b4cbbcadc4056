import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANN, BEN, imapMessages, mail, play, smtpConnect, spawnSmtpNode, writeMailUsers, type Step } from '../../helpers/smtp';

/**
 * Idempotent delivery through the node's real LMTP listener, in its own
 * process: the gateway's `X-Mailfleet-Delivery-Id` (the queue entry id,
 * mail-runtime/smtp/common/delivery-id.ts) makes a repeated attempt — a lost
 * reply, a gateway killed before it recorded "delivered", a takeover —
 * answer 250 per recipient (RFC 2033 §4.2) without a second copy, also
 * after the node was killed -9 and restarted on the same storage.
 */
let dir: string;
let running: Awaited<ReturnType<typeof spawnSmtpNode>> | undefined;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-lmtp-idem-'));
  await writeMailUsers(join(dir, 'users.yaml'), [ANN, BEN]);
});
afterAll(async () => {
  running?.child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

const QUEUE_ID = 'lx2k9a1b2c3d4e5f6a7';
const OTHER_ID = 'lx2k9a1b2c3d4e5f6a8';

/** One LMTP transaction to ANN and BEN with the given extra header fields on top; the two per-recipient replies. */
async function deliver(port: number, subject: string, top: readonly string[]): Promise<(string | string[])[]> {
  const { c } = await smtpConnect(port);
  try {
    const steps: Step[] = [
      { send: 'LHLO gw.test', expect: /^250/ },
      { send: 'MAIL FROM:<sender@example.net>', expect: /^250/ },
      { send: `RCPT TO:<${ANN.address}>`, expect: /^250/ },
      { send: `RCPT TO:<${BEN.address}>`, expect: /^250/ },
      { send: 'DATA', expect: /^354/ },
      { data: `${top.map((f) => `${f}\r\n`).join('')}${mail({ subject, messageId: `<${subject.replace(/\W/g, '')}@example.net>` })}`, expect: [/^250/, /^250/] },
    ];
    return (await play(c, steps)).slice(-1);
  } finally {
    c.close();
  }
}

const delivered: (string | string[])[] = [[`250 2.0.0 <${ANN.address}> delivered`, `250 2.0.0 <${BEN.address}> delivered`]];

async function subjects(port: number, user: typeof ANN): Promise<string[]> {
  return (await imapMessages(port, user)).map((m) => {
    // The id is the gateway's and the node's business: it never reaches the mailbox.
    expect(m).not.toMatch(/X-Mailfleet-Delivery-Id/i);
    return /^Subject: (.*)$/m.exec(m)?.[1] ?? '';
  });
}

describe('LMTP delivery ids (real node process)', () => {
  it('a repeat of one delivery id is answered 250 per recipient and stored once, before and after kill -9', { timeout: 120_000 }, async () => {
    running = await spawnSmtpNode(dir);
    const field = `X-Mailfleet-Delivery-Id: ${QUEUE_ID}`;
    expect(await deliver(running.lmtpPort, 'first try', [field])).toEqual(delivered);
    expect(await deliver(running.lmtpPort, 'first try', [field])).toEqual(delivered);
    for (const user of [ANN, BEN]) expect(await subjects(running.imapPort, user)).toEqual(['first try']);

    // The node dies with the id only in its log and Maildir: the owner after the restart still knows it.
    running.child.kill('SIGKILL');
    await running.exited;
    running = await spawnSmtpNode(dir);
    expect(await deliver(running.lmtpPort, 'first try', [field])).toEqual(delivered);
    for (const user of [ANN, BEN]) expect(await subjects(running.imapPort, user)).toEqual(['first try']);

    // Another queue entry is another message, even with the same content.
    expect(await deliver(running.lmtpPort, 'first try', [`X-Mailfleet-Delivery-Id: ${OTHER_ID}`])).toEqual(delivered);
    for (const user of [ANN, BEN]) expect(await subjects(running.imapPort, user)).toEqual(['first try', 'first try']);
  });

  it('no id, a malformed id or two different ids: delivered every time (no repeat check), the fields removed', { timeout: 60_000 }, async () => {
    running ??= await spawnSmtpNode(dir);
    const before = (await subjects(running.imapPort, ANN)).length;
    const cases: [string, string[]][] = [
      ['no id', []],
      ['bad id', ['X-Mailfleet-Delivery-Id: NOT/valid']],
      ['two ids', [`X-Mailfleet-Delivery-Id: ${QUEUE_ID}`, 'X-Mailfleet-Delivery-Id: lx2k9a1b2c3d4e5f6ff']],
    ];
    for (const [subject, top] of cases) {
      expect(await deliver(running.lmtpPort, subject, top)).toEqual(delivered);
      expect(await deliver(running.lmtpPort, subject, top)).toEqual(delivered);
    }
    const after = await subjects(running.imapPort, ANN);
    expect(after.slice(before)).toEqual(['no id', 'no id', 'bad id', 'bad id', 'two ids', 'two ids']);
    running.child.kill('SIGTERM');
    await running.exited;
    running = undefined;
  });
});
