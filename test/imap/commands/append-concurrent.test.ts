/**
 * APPEND from several sessions at once (RFC 3501 §6.3.11, RFC 3502
 * MULTIAPPEND, RFC 4315 §3 APPENDUID) on a real node: every message is
 * durable before its OK (DESIGN.md) and visible with the UID its
 * APPENDUID named, also after the node restarts on the same storage. The
 * store's fsync counters show the group commit: one fsync round per
 * command's files (a MULTIAPPEND's messages share it), never fewer file
 * fsyncs than files, and commits shared rather than multiplied.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imapLogin, message } from '../../helpers/imap';
import type { LineClient } from '../../helpers/line-client';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

const SESSIONS = 6;
/** Per session: one MULTIAPPEND of this many messages, then as many single APPENDs, all pipelined (LITERAL+, RFC 7888). */
const PER_COMMAND = 4;

let dir: string;
let node: TestNode | undefined;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-append-concurrent-'));
});
afterAll(async () => {
  await node?.dispose();
  await rm(dir, { recursive: true, force: true });
});

const subject = (s: number, i: number): string => `s${s}-m${i}`;

/** `[uidValidity, uids]` from `OK [APPENDUID v set]` (a uid-set for MULTIAPPEND: ranges expanded). */
function appendUid(line: string): [number, number[]] {
  const m = /OK \[APPENDUID (\d+) ([\d:,]+)\]/.exec(line);
  if (!m) throw new Error(`no APPENDUID in ${line}`);
  const uids: number[] = [];
  for (const part of m[2].split(',')) {
    const [a, b] = part.split(':').map(Number);
    for (let u = a; u <= (b ?? a); u++) uids.push(u);
  }
  return [Number(m[1]), uids];
}

/** One session's work: every command written at once, then the tagged replies read in order. */
async function appendAll(c: LineClient, s: number): Promise<{ subject: string; uid: number; uidValidity: number }[]> {
  const multi = Array.from({ length: PER_COMMAND }, (_, i) => message(subject(s, i)));
  let out = 'm APPEND INBOX';
  for (const m of multi) out += ` {${Buffer.byteLength(m)}+}\r\n${m}`;
  out += '\r\n';
  const singles = Array.from({ length: PER_COMMAND }, (_, i) => message(subject(s, PER_COMMAND + i)));
  singles.forEach((m, i) => (out += `a${i} APPEND INBOX {${Buffer.byteLength(m)}+}\r\n${m}\r\n`));
  c.write(out);
  const tags = ['m', ...singles.map((_, i) => `a${i}`)];
  const lines = await c.readUntil((l) => l.startsWith(`${tags[tags.length - 1]} `));
  const result: { subject: string; uid: number; uidValidity: number }[] = [];
  for (const [k, tag] of tags.entries()) {
    const line = lines.find((l) => l.startsWith(`${tag} `));
    expect(line, `reply to ${tag}`).toMatch(/ OK /);
    const [uidValidity, uids] = appendUid(line!);
    const subjects = k === 0 ? multi.map((_, i) => subject(s, i)) : [subject(s, PER_COMMAND + k - 1)];
    expect(uids).toHaveLength(subjects.length);
    subjects.forEach((subj, i) => result.push({ subject: subj, uid: uids[i], uidValidity }));
  }
  return result;
}

async function subjectsByUid(c: LineClient): Promise<Map<number, string>> {
  await c.command('x', 'EXAMINE INBOX');
  const lines = await c.command('f', 'UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
  const out = new Map<number, string>();
  let uid = 0;
  for (const l of lines) {
    const u = /UID (\d+)/.exec(l);
    if (u && l.startsWith('* ')) uid = Number(u[1]);
    const s = /^Subject: (\S+)/.exec(l);
    if (s) out.set(uid, s[1]);
  }
  return out;
}

describe('concurrent APPEND from several sessions', () => {
  it('every message is durable and visible with the UID its APPENDUID named; one fsync round per command', { timeout: 120_000 }, async () => {
    node = await startTestNode({ dir, users: [ALICE] });
    let appended: { subject: string; uid: number; uidValidity: number }[];
    const clients = await Promise.all(Array.from({ length: SESSIONS }, () => imapLogin(node!.imapPort, ALICE.address, ALICE.password)));
    try {
      // INBOX opened (and its index created) before counting: the counters then show the appends only.
      await clients[0].command('s', 'STATUS INBOX (MESSAGES)');
      const before = { ...node.store.stats };
      appended = (await Promise.all(clients.map((c, s) => appendAll(c, s)))).flat();
      const after = node.store.stats;
      const total = SESSIONS * PER_COMMAND * 2;
      const commands = SESSIONS * (1 + PER_COMMAND);

      // Distinct, consecutive UIDs under one UIDVALIDITY (RFC 3501 §2.3.1.1).
      expect(new Set(appended.map((a) => a.uidValidity)).size).toBe(1);
      expect(appended.map((a) => a.uid).sort((x, y) => x - y)).toEqual(Array.from({ length: total }, (_, i) => i + 1));

      // Every file fsynced, in one round per command: the MULTIAPPEND's four share theirs.
      expect(after.fileFsyncs - before.fileFsyncs).toBe(total);
      expect(after.fileSyncRounds - before.fileSyncRounds).toBe(commands);
      // Each commit fsyncs cur/ once and the log once, however many appends it covers.
      const commits = after.commits - before.commits;
      expect(commits).toBeGreaterThan(0);
      expect(after.dirFsyncs - before.dirFsyncs).toBeLessThanOrEqual(commits);
      expect(after.indexFsyncs - before.indexFsyncs).toBeLessThanOrEqual(commits);
      expect(after.operations - before.operations).toBeGreaterThanOrEqual(commands);

      // Visible at once to another session, each under its APPENDUID.
      const seen = await subjectsByUid(clients[SESSIONS - 1]);
      expect(seen.size).toBe(total);
      for (const a of appended) expect(seen.get(a.uid), `UID ${a.uid}`).toBe(a.subject);
    } finally {
      for (const c of clients) c.close();
    }

    // Durable: the same after the node stops and a new one opens the storage.
    await node.close();
    node = await startTestNode({ dir, users: [ALICE] });
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      const seen = await subjectsByUid(c);
      expect(seen.size).toBe(appended.length);
      for (const a of appended) expect(seen.get(a.uid), `UID ${a.uid} after restart`).toBe(a.subject);
    } finally {
      c.close();
    }
  });
});
