import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imapLogin, message } from '../helpers/imap';
import { spawnNode, type SpawnedNode } from '../helpers/node';
import { ALICE, writeUsersFile } from '../helpers/users';

/**
 * DESIGN.md: APPEND is acknowledged only once durable. Kill -9 the node in
 * the middle of a stream of pipelined APPENDs, restart it on the same
 * storage, and check that every acknowledged message is there, complete,
 * with the UID it was acknowledged with.
 */
let dir: string;
let running: SpawnedNode | undefined;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-crash-'));
  await writeUsersFile(join(dir, 'users.yaml'), [ALICE]);
});
afterAll(async () => {
  running?.child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

describe('kill -9 during an APPEND stream', () => {
  it('keeps every acknowledged message with its UID', { timeout: 90_000 }, async () => {
    running = await spawnNode(dir);
    const c = await imapLogin(running.imapPort, ALICE.address, ALICE.password);
    const TOTAL = 400;
    const bodies = new Map<string, string>();
    let stream = '';
    for (let i = 0; i < TOTAL; i++) {
      const subject = `crash-${i}`;
      const msg = message(subject, `${'line of body text\r\n'.repeat(20 + (i % 50))}`);
      bodies.set(subject, msg);
      stream += `a${i} APPEND INBOX {${Buffer.byteLength(msg)}+}\r\n${msg}\r\n`;
    }
    // Everything goes out at once; the server acknowledges one by one.
    c.write(stream);
    const acked = new Map<string, number>();
    for (let n = 0; n < TOTAL && acked.size < 25; n++) {
      const line = await c.readLine(20_000);
      const m = /^a(\d+) OK \[APPENDUID \d+ (\d+)\]/.exec(line);
      if (m) acked.set(`crash-${m[1]}`, Number(m[2]));
    }
    running.child.kill('SIGKILL');
    // Acknowledgements already on the wire before the kill count too.
    for (;;) {
      let line: string;
      try {
        line = await c.readLine(2000);
      } catch {
        break;
      }
      const m = /^a(\d+) OK \[APPENDUID \d+ (\d+)\]/.exec(line);
      if (m) acked.set(`crash-${m[1]}`, Number(m[2]));
    }
    c.close();
    await running.exited;
    expect(acked.size).toBeGreaterThanOrEqual(25);
    expect(acked.size).toBeLessThan(TOTAL); // the kill really happened mid-stream

    running = await spawnNode(dir);
    const flow = new ImapFlow({
      host: '127.0.0.1',
      port: running.imapPort,
      secure: false,
      auth: { user: ALICE.address, pass: ALICE.password },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await flow.connect();
    try {
      const box = await flow.mailboxOpen('INBOX');
      const found = new Map<number, { subject: string; size: number }>();
      for await (const msg of flow.fetch('1:*', { uid: true, envelope: true, size: true })) {
        found.set(msg.uid, { subject: msg.envelope?.subject ?? '', size: msg.size ?? -1 });
      }
      expect(found.size).toBe(box.exists);
      for (const [subject, uid] of acked) {
        expect(found.get(uid), `acknowledged ${subject} as UID ${uid}`).toEqual({ subject, size: Buffer.byteLength(bodies.get(subject) as string) });
      }
      // Unacknowledged messages may be there or not, but only whole and in order.
      for (const { subject, size } of found.values()) {
        expect(size).toBe(Buffer.byteLength(bodies.get(subject) as string));
      }
      const uids = [...found.keys()];
      expect(uids).toEqual([...uids].sort((a, b) => a - b));
      expect(Number(box.uidNext)).toBeGreaterThan(Math.max(...uids));
    } finally {
      await flow.logout();
    }
    running.child.kill('SIGTERM');
    await running.exited;
    running = undefined;
  });
});
