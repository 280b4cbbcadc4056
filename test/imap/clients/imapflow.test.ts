import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { message } from '../../helpers/imap';
import { startTestNode, type TestNode } from '../../helpers/node';

/** The everyday scenarios through imapflow (a real client that upgrades with STARTTLS on its own). */
let node: TestNode;
const quotaUser = { address: 'quota@example.com', password: 'quota-pw', quota: { bytes: 1024 * 1024, messages: 100 } };
beforeAll(async () => {
  node = await startTestNode({ users: [{ address: 'flow@example.com', password: 'flow-pw' }, quotaUser] });
});
afterAll(() => node.dispose());

function client(user = 'flow@example.com', pass = 'flow-pw'): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port: node.imapPort,
    secure: false,
    auth: { user, pass },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
}

function waitFor<T>(emitter: ImapFlow, event: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} event`)), timeoutMs);
    emitter.once(event, (v: T) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}

describe('imapflow', () => {
  it('login (over STARTTLS), list, status', async () => {
    const c = client();
    await c.connect();
    try {
      expect(c.secureConnection).toBe(true);
      const list = await c.list();
      expect(list.map((m) => m.path).sort()).toEqual(['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
      expect(list.find((m) => m.path === 'Sent')?.specialUse).toBe('\\Sent');
      const st = await c.status('INBOX', { messages: true, uidNext: true, unseen: true });
      expect(st).toMatchObject({ path: 'INBOX', messages: 0, uidNext: 1, unseen: 0 });
    } finally {
      await c.logout();
    }
  });

  it('append, fetch headers/bodies/partials, search, flags, copy/move, expunge', async () => {
    const c = client();
    await c.connect();
    try {
      const raw1 = message('flow one', 'first body line\r\nsecond line\r\n', 'Ann <ann@example.org>');
      const raw2 = message('flow two', 'another body\r\n', 'Ben <ben@example.net>');
      const a1 = await c.append('INBOX', raw1, ['\\Seen']);
      const a2 = await c.append('INBOX', raw2);
      expect(a1).toMatchObject({ destination: 'INBOX', uid: 1 });
      expect(a2).toMatchObject({ uid: 2 });
      const box = await c.mailboxOpen('INBOX');
      expect(box.exists).toBe(2);

      const one = await c.fetchOne('1', { envelope: true, flags: true, size: true, bodyStructure: true, source: true, uid: true });
      expect(one).not.toBe(false);
      if (!one) return;
      expect(one.uid).toBe(1);
      expect(one.envelope?.subject).toBe('flow one');
      expect(one.envelope?.from?.[0]).toMatchObject({ name: 'Ann', address: 'ann@example.org' });
      // imapflow sends ENABLE IMAP4rev2 when offered: then no \Recent (RFC 9051 Appendix E item 12).
      expect(c.enabled.has('IMAP4REV2')).toBe(true);
      expect([...(one.flags ?? [])]).toEqual(['\\Seen']);
      expect(one.size).toBe(Buffer.byteLength(raw1));
      expect(one.source?.toString()).toBe(raw1);
      expect(one.bodyStructure?.type).toBe('text/plain');

      const hdr = await c.fetchOne('2', { headers: ['subject'], bodyParts: ['TEXT'] }, {});
      if (!hdr) throw new Error('no message 2');
      expect(hdr.headers?.toString()).toBe('Subject: flow two\r\n\r\n');
      expect(hdr.bodyParts?.get('text')?.toString()).toBe('another body\r\n');
      const partial = await c.fetchOne('1', { source: { start: 6, maxLength: 3 } });
      if (!partial) throw new Error('no message 1');
      expect(partial.source?.toString()).toBe('Ann');

      expect(await c.search({ from: 'ben' })).toEqual([2]);
      expect(await c.search({ seen: false })).toEqual([2]);
      expect(await c.search({ body: 'second line' }, { uid: true })).toEqual([1]);

      expect(await c.messageFlagsAdd('2', ['\\Flagged', '$Label1'])).toBe(true);
      const f = await c.fetchOne('2', { flags: true });
      if (!f) throw new Error('no message 2');
      expect([...(f.flags ?? [])].sort()).toEqual(['$Label1', '\\Flagged']);
      // Under IMAP4rev2 the answers are ESEARCH (RFC 9051 §6.4.4), which imapflow reads; RECENT is no key there (Appendix E item 12).
      expect(await c.search({ keyword: '$Label1' })).toEqual([2]);
      expect(await c.search({ all: true }, { uid: true })).toEqual([1, 2]);
      await c.messageFlagsRemove('2', ['$Label1']);

      const copied = await c.messageCopy('1:2', 'Archive');
      expect(copied).toMatchObject({ destination: 'Archive' });
      expect([...(copied ? copied.uidMap?.entries() ?? [] : [])]).toEqual([
        [1, 1],
        [2, 2],
      ]);
      const moved = await c.messageMove('1', 'Trash', { uid: true });
      expect(moved && [...(moved.uidMap?.entries() ?? [])]).toEqual([[1, 1]]);
      expect(c.mailbox && c.mailbox.exists).toBe(1);
      expect(await c.messageDelete('1:*')).toBe(true);
      const after = await c.status('INBOX', { messages: true });
      expect(after && after.messages).toBe(0);
      const archive = await c.status('Archive', { messages: true });
      expect(archive && archive.messages).toBe(2);
    } finally {
      await c.logout();
    }
  });

  it('a second client sees new mail while the first idles', async () => {
    const watcher = client();
    const writer = client();
    await watcher.connect();
    await writer.connect();
    let idling: Promise<unknown> = Promise.resolve();
    try {
      await watcher.mailboxOpen('INBOX');
      const before = watcher.mailbox ? watcher.mailbox.exists : 0;
      // idle() resolves only when IDLE ends (logout below ends it).
      idling = watcher.idle().catch(() => undefined);
      const seen = waitFor<{ count: number }>(watcher, 'exists');
      await writer.append('INBOX', message('while idle'));
      const ev = await seen;
      expect(ev.count).toBe(before + 1);
    } finally {
      await writer.logout();
      await watcher.logout();
      await idling;
    }
  });

  it('IMAP4rev2 (RFC 9051 §5.1) UTF-8 mailbox names and OBJECTID (RFC 8474): MAILBOXID kept by RENAME, EMAILID fetched and searched', async () => {
    const c = client();
    await c.connect();
    try {
      expect(c.enabled.has('IMAP4REV2')).toBe(true);
      const created = await c.mailboxCreate('Entwürfe & Co');
      expect(created.mailboxId).toMatch(/^F[0-9a-f]{24}$/);
      expect((await c.list()).map((m) => m.path)).toContain('Entwürfe & Co');
      await c.append('Entwürfe & Co', message('utf8 one'));
      await c.append('Entwürfe & Co', message('utf8 two'));
      const box = await c.mailboxOpen('Entwürfe & Co');
      expect(box.mailboxId).toBe(created.mailboxId);
      const msgs = [];
      for await (const m of c.fetch('1:*', { uid: true, emailId: true, threadId: true })) msgs.push(m);
      // RFC 8474 §5.1: stored per message (random, kept by COPY and MOVE), one per message.
      expect(msgs.map((m) => m.emailId)).toEqual([expect.stringMatching(/^M[0-9a-f]{24}$/), expect.stringMatching(/^M[0-9a-f]{24}$/)]);
      expect(msgs[0].emailId).not.toBe(msgs[1].emailId);
      expect(await c.search({ emailId: msgs[1].emailId! })).toEqual([2]);
      await c.mailboxClose();
      await c.mailboxRename('Entwürfe & Co', 'Archiv/Entwürfe');
      const renamed = await c.mailboxOpen('Archiv/Entwürfe');
      expect(renamed.mailboxId).toBe(created.mailboxId);
    } finally {
      await c.logout();
    }
  });

  it('quota (RFC 9208)', async () => {
    const c = client(quotaUser.address, quotaUser.password);
    await c.connect();
    try {
      await c.append('INBOX', message('quota', 'x'.repeat(4000)));
      const q = await c.getQuota('INBOX');
      expect(q).not.toBe(false);
      if (!q) return;
      expect(q.storage?.limit).toBe(1024 * 1024);
      expect(q.storage?.usage).toBeGreaterThanOrEqual(4096);
      expect((q as unknown as { message?: unknown }).message).toMatchObject({ usage: 1, limit: 100 });
    } finally {
      await c.logout();
    }
  });
});
