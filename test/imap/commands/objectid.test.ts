/**
 * OBJECTID (RFC 8474) on a real node over a raw socket: MAILBOXID in
 * CREATE, SELECT/EXAMINE and STATUS, kept across RENAME and restart;
 * FETCH EMAILID / THREADID and SEARCH EMAILID / THREADID.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imapAppend, imapLogin, message } from '../../helpers/imap';
import type { LineClient } from '../../helpers/line-client';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

const OBJECTID = '[A-Za-z0-9_-]{1,255}';

/** The MAILBOXID STATUS reports for `mailbox`. */
async function statusId(c: LineClient, mailbox: string): Promise<string> {
  const res = await c.command('s', `STATUS ${mailbox} (MAILBOXID)`);
  expect(res[1]).toBe('s OK STATUS completed');
  const m = new RegExp(`^\\* STATUS "?${mailbox}"? \\(MAILBOXID \\((${OBJECTID})\\)\\)$`).exec(res[0]);
  if (!m) throw new Error(`unexpected STATUS reply: ${res[0]}`);
  return m[1];
}

/** EMAILID and THREADID of each message 1..n, from FETCH. */
async function objectIds(c: LineClient, n: number): Promise<{ email: string; thread: string }[]> {
  const res = await c.command('f', `FETCH 1:${n} (EMAILID THREADID)`);
  expect(res[res.length - 1]).toBe('f OK FETCH completed');
  return res.slice(0, -1).map((l, i) => {
    const m = new RegExp(`^\\* ${i + 1} FETCH \\(EMAILID \\((${OBJECTID})\\) THREADID \\((${OBJECTID})\\)\\)$`).exec(l);
    if (!m) throw new Error(`unexpected FETCH reply: ${l}`);
    return { email: m[1], thread: m[2] };
  });
}

/** EMAILID of each message 1..n, from FETCH. */
async function emailIds(c: LineClient, n: number): Promise<string[]> {
  return (await objectIds(c, n)).map((o) => o.email);
}

/** A message with these threading headers (RFC 5322 §3.6.4). */
function threaded(subject: string, id: string, refs: { inReplyTo?: string; references?: string } = {}): string {
  const extra = (refs.inReplyTo ? `In-Reply-To: ${refs.inReplyTo}\r\n` : '') + (refs.references ? `References: ${refs.references}\r\n` : '');
  return `From: a@example.org\r\nSubject: ${subject}\r\nMessage-ID: ${id}\r\n${extra}\r\nbody\r\n`;
}

let dir: string;
let node: TestNode;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-objectid-'));
  node = await startTestNode({ dir });
});
afterAll(async () => {
  await node.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('RFC 8474 OBJECTID', () => {
  it('§3: OBJECTID is advertised after login', async () => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      expect((await c.command('c', 'CAPABILITY'))[0]).toMatch(/ OBJECTID( |$)/);
    } finally {
      c.close();
    }
  });

  it('§4.1–§4.3: MAILBOXID in CREATE, SELECT, EXAMINE and STATUS; kept by RENAME; a new mailbox of the same name gets a new one', async () => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      const created = await c.command('c', 'CREATE projects');
      const m = new RegExp(`^c OK \\[MAILBOXID \\((${OBJECTID})\\)\\] CREATE completed$`).exec(created[0]);
      expect(m, created.join(' / ')).not.toBeNull();
      const id = m![1];
      expect(await statusId(c, 'projects')).toBe(id);
      expect(await c.command('l', 'LIST "" projects RETURN (STATUS (MAILBOXID))')).toEqual([
        '* LIST (\\HasNoChildren) "/" "projects"',
        `* STATUS "projects" (MAILBOXID (${id}))`,
        'l OK LIST completed',
      ]);
      for (const cmd of ['SELECT', 'EXAMINE']) {
        expect(await c.command('s', `${cmd} projects`)).toContain(`* OK [MAILBOXID (${id})] Ok`);
      }
      await c.command('u', 'UNSELECT');
      const inbox = await statusId(c, 'INBOX');
      expect(inbox).not.toBe(id);
      // §4.3: RENAME keeps the id (the folder is the same one under a new name).
      expect(await c.command('r', 'RENAME projects archive/projects')).toEqual(['r OK RENAME completed']);
      expect(await statusId(c, 'archive/projects')).toBe(id);
      // DELETE then CREATE of the same name: another mailbox, another id.
      await c.command('d', 'DELETE archive/projects');
      const again = await c.command('c', 'CREATE archive/projects');
      expect(again[0]).toMatch(/^c OK \[MAILBOXID \(/);
      expect(await statusId(c, 'archive/projects')).not.toBe(id);
      expect(await c.command('b', 'STATUS INBOX (MAILBOXIDS)')).toEqual(['b BAD STATUS: Unknown STATUS item']);
    } finally {
      c.close();
    }
  });

  it('§5.1, §6: FETCH EMAILID (unique per message); SEARCH EMAILID finds the message, an unknown THREADID nothing', async () => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      await c.command('c', 'CREATE mails');
      await c.command('c', 'CREATE other');
      for (const s of ['one', 'two', 'three']) await imapAppend(c, 'a', 'mails', message(s));
      await imapAppend(c, 'a', 'other', message('elsewhere'));
      await c.command('s', 'SELECT other');
      const [elsewhere] = await emailIds(c, 1);
      await c.command('s', 'SELECT mails');
      const ids = await emailIds(c, 3);
      expect(new Set([...ids, elsewhere]).size).toBe(4);
      expect(await c.command('u', 'UID FETCH 2 (EMAILID)')).toEqual([`* 2 FETCH (UID 2 EMAILID (${ids[1]}))`, 'u OK FETCH completed']);
      expect(await c.command('q', `SEARCH EMAILID ${ids[1]}`)).toEqual(['* SEARCH 2', 'q OK SEARCH completed']);
      expect(await c.command('q', `UID SEARCH OR EMAILID ${ids[0]} EMAILID ${ids[2]}`)).toEqual(['* SEARCH 1 3', 'q OK SEARCH completed']);
      // An id of a message in another mailbox is not in this one.
      expect(await c.command('q', `SEARCH EMAILID ${elsewhere}`)).toEqual(['* SEARCH', 'q OK SEARCH completed']);
      expect(await c.command('q', 'SEARCH THREADID T1')).toEqual(['* SEARCH', 'q OK SEARCH completed']);
      expect(await c.command('q', 'SEARCH NOT THREADID T1')).toEqual(['* SEARCH 1 2 3', 'q OK SEARCH completed']);
      expect(await c.command('q', 'SEARCH EMAILID M!x')).toEqual(['q BAD SEARCH: EMAILID needs an object id']);
    } finally {
      c.close();
    }
  });

  it('§5.2, §6: THREADID groups a thread by its References / In-Reply-To root, in every folder, COPY and MOVE included', async () => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      await c.command('c', 'CREATE threads');
      await c.command('c', 'CREATE threads-copy');
      const msgs = [
        threaded('plan', '<root@example.org>'),
        threaded('Re: plan', '<r1@example.org>', { inReplyTo: '<root@example.org>' }),
        threaded('Re: Re: plan', '<r2@example.org>', { inReplyTo: '<r1@example.org>', references: '<root@example.org> <r1@example.org>' }),
        threaded('budget', '<other@example.org>'), // another subject, no link: a thread of its own
      ];
      for (const m of msgs) expect((await imapAppend(c, 'a', 'threads', m)).pop()).toMatch(/^a OK/);
      await c.command('s', 'SELECT threads');
      const ids = await objectIds(c, 4);
      expect(ids[1].thread).toBe(ids[0].thread);
      expect(ids[2].thread).toBe(ids[0].thread);
      expect(ids[3].thread).not.toBe(ids[0].thread);
      expect(ids[0].thread).not.toBe(ids[0].email);
      expect(await c.command('q', `SEARCH THREADID ${ids[0].thread}`)).toEqual(['* SEARCH 1 2 3', 'q OK SEARCH completed']);
      expect(await c.command('q', `UID SEARCH THREADID ${ids[3].thread}`)).toEqual(['* SEARCH 4', 'q OK SEARCH completed']);
      expect(await c.command('q', `SEARCH NOT THREADID ${ids[0].thread}`)).toEqual(['* SEARCH 4', 'q OK SEARCH completed']);
      // COPY and MOVE keep the thread (the id comes from the message, not from where it is).
      expect((await c.command('k', 'COPY 2 threads-copy')).pop()).toMatch(/^k OK/);
      expect((await c.command('m', 'MOVE 3 threads-copy')).pop()).toMatch(/^m OK/);
      await c.command('s', 'SELECT threads-copy');
      const copied = await objectIds(c, 2);
      expect(copied.map((o) => o.thread)).toEqual([ids[0].thread, ids[0].thread]);
      expect(await c.command('q', `SEARCH THREADID ${ids[0].thread}`)).toEqual(['* SEARCH 1 2', 'q OK SEARCH completed']);
    } finally {
      c.close();
    }
  });

  /** Message numbers grouped as `THREAD REFERENCES` answers (RFC 5256 §4: one group per top-level thread-list). */
  async function referencesGroups(c: LineClient): Promise<number[][]> {
    const res = await c.command('t', 'THREAD REFERENCES UTF-8 ALL');
    expect(res[res.length - 1]).toBe('t OK THREAD completed');
    const line = res[0].replace(/^\* THREAD ?/, '');
    const groups: number[][] = [];
    let depth = 0;
    let current: number[] = [];
    for (const tok of line.match(/\(|\)|\d+/g) ?? []) {
      if (tok === '(') depth++;
      else if (tok === ')') {
        depth--;
        if (depth === 0) {
          groups.push(current.sort((a, b) => a - b));
          current = [];
        }
      } else current.push(Number(tok));
    }
    return groups.sort((a, b) => a[0] - b[0]);
  }

  /** Message numbers grouped by THREADID. */
  function threadIdGroups(ids: { thread: string }[]): number[][] {
    const by = new Map<string, number[]>();
    ids.forEach((o, i) => by.set(o.thread, [...(by.get(o.thread) ?? []), i + 1]));
    return [...by.values()].sort((a, b) => a[0] - b[0]);
  }

  it('§5.2 with RFC 5256 §3 step 5: a message without References joins the thread of the first message of its base subject (§2.1), as THREAD=REFERENCES groups', async () => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      await c.command('c', 'CREATE subjects');
      const msgs = [
        threaded('x', '<x@example.org>'),
        threaded('Re: x', '<rx@example.org>'), // a reply whose client sent no References nor In-Reply-To
        threaded('Re: x', '<rx2@example.org>', { references: '<x@example.org>' }),
        threaded('y', '<y@example.org>'),
        threaded('[list] Fwd: X', '<fx@example.org>'), // §2.1: the base subject is "X"; i;unicode-casemap: the same as "x"
        threaded('Re: y', '<ry@example.org>', { inReplyTo: '<y@example.org>' }),
        threaded('', '<e1@example.org>'), // an empty subject joins nothing (§3 step 5.B)
        threaded('', '<e2@example.org>'),
      ];
      for (const m of msgs) expect((await imapAppend(c, 'a', 'subjects', m)).pop()).toMatch(/^a OK/);
      await c.command('s', 'SELECT subjects');
      const ids = await objectIds(c, msgs.length);
      expect(ids[1].thread).toBe(ids[0].thread);
      expect(ids[2].thread).toBe(ids[0].thread);
      expect(ids[4].thread).toBe(ids[0].thread);
      expect(ids[5].thread).toBe(ids[3].thread);
      expect(ids[3].thread).not.toBe(ids[0].thread);
      expect(ids[6].thread).not.toBe(ids[7].thread);
      expect(threadIdGroups(ids)).toEqual([[1, 2, 3, 5], [4, 6], [7], [8]]);
      expect(await referencesGroups(c)).toEqual(threadIdGroups(ids));
      expect(await c.command('q', `SEARCH THREADID ${ids[0].thread}`)).toEqual(['* SEARCH 1 2 3 5', 'q OK SEARCH completed']);
      // Another session derives the same ids, also for mail that arrived after the first FETCH.
      expect((await imapAppend(c, 'a', 'subjects', threaded('RE: X', '<rx3@example.org>'))).pop()).toMatch(/^a OK/);
      const other = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
      try {
        await other.command('s', 'EXAMINE subjects');
        const again = await objectIds(other, msgs.length + 1);
        expect(again.slice(0, msgs.length)).toEqual(ids);
        expect(again[msgs.length].thread).toBe(ids[0].thread);
      } finally {
        other.close();
      }
      await c.command('n', 'NOOP');
      expect((await objectIds(c, msgs.length + 1))[msgs.length].thread).toBe(ids[0].thread);
    } finally {
      c.close();
    }
  });

  it('§4.1, §5.1, §5.2: MAILBOXID, EMAILID and THREADID are the same after a restart', async () => {
    let c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    await c.command('c', 'CREATE kept');
    await imapAppend(c, 'a', 'kept', message('kept'));
    await imapAppend(c, 'a', 'kept', threaded('Re: kept', '<kept-reply@example.org>'));
    const box = await statusId(c, 'kept');
    await c.command('s', 'SELECT kept');
    const mails = await objectIds(c, 2);
    expect(mails[1].thread).toBe(mails[0].thread);
    c.close();
    await node.dispose();
    node = await startTestNode({ dir });
    c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    try {
      expect(await statusId(c, 'kept')).toBe(box);
      await c.command('s', 'SELECT kept');
      expect(await objectIds(c, 2)).toEqual(mails);
    } finally {
      c.close();
    }
  });
});
