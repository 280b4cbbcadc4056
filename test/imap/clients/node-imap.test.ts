import Imap from 'imap';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { message } from '../../helpers/imap';
import { startTestNode, type TestNode } from '../../helpers/node';

/**
 * The same everyday scenarios through node-imap (`imap` package), an
 * independent client with its own parser: login over STARTTLS, list,
 * select, append, fetch headers/bodies/structure, search, flags,
 * copy/move, expunge, idle notification, quota.
 */
let node: TestNode;
const USER = { address: 'nimap@example.com', password: 'nimap-pw', quota: { bytes: 2 * 1024 * 1024, messages: 50 } };
beforeAll(async () => {
  node = await startTestNode({ users: [USER] });
});
afterAll(() => node.dispose());

async function connect(): Promise<Imap> {
  const imap = new Imap({
    user: USER.address,
    password: USER.password,
    host: '127.0.0.1',
    port: node.imapPort,
    tls: false,
    autotls: 'required',
    tlsOptions: { rejectUnauthorized: false },
    authTimeout: 5000,
  });
  await new Promise<void>((resolve, reject) => {
    imap.once('ready', () => resolve());
    imap.once('error', reject);
    imap.connect();
  });
  return imap;
}

function call<T>(fn: (cb: (err: Error | null, v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
}

interface Fetched {
  seqno: number;
  bodies: Record<string, string>;
  attrs: Imap.ImapMessageAttributes;
}

function fetchAll(f: Imap.ImapFetch): Promise<Fetched[]> {
  return new Promise((resolve, reject) => {
    const out: Fetched[] = [];
    f.on('message', (msg, seqno) => {
      const item: Fetched = { seqno, bodies: {}, attrs: {} as Imap.ImapMessageAttributes };
      msg.on('body', (stream, info) => {
        let text = '';
        stream.on('data', (d: Buffer) => {
          text += d.toString('utf8');
        });
        stream.once('end', () => {
          item.bodies[info.which] = text;
        });
      });
      msg.once('attributes', (a) => {
        item.attrs = a;
      });
      msg.once('end', () => out.push(item));
    });
    f.once('error', reject);
    f.once('end', () => resolve(out));
  });
}

function end(imap: Imap): Promise<void> {
  return new Promise((resolve) => {
    imap.once('end', () => resolve());
    imap.end();
  });
}

describe('node-imap', () => {
  it('login, list, select, append, fetch, search, flags, copy/move, expunge, quota', async () => {
    const imap = await connect();
    try {
      const boxes = await call<Imap.MailBoxes>((cb) => imap.getBoxes(cb));
      expect(Object.keys(boxes).sort()).toEqual(['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);

      const raw1 = message('node one', 'alpha body\r\n', 'Ann <ann@example.org>');
      const raw2 = message('node two', 'beta body\r\n', 'Ben <ben@example.net>');
      await call<void>((cb) => imap.append(raw1, { mailbox: 'INBOX', flags: ['Seen'] }, (err) => cb(err, undefined)));
      await call<void>((cb) => imap.append(raw2, { mailbox: 'INBOX' }, (err) => cb(err, undefined)));

      const box = await call<Imap.Box>((cb) => imap.openBox('INBOX', false, cb));
      expect(box.messages.total).toBe(2);
      expect(box.uidnext).toBe(3);
      expect(box.messages.new).toBe(2);

      const msgs = await fetchAll(imap.seq.fetch('1:*', { bodies: ['HEADER.FIELDS (SUBJECT FROM)', 'TEXT'], struct: true, envelope: true }));
      expect(msgs.map((m) => m.seqno)).toEqual([1, 2]);
      expect(Imap.parseHeader(msgs[0].bodies['HEADER.FIELDS (SUBJECT FROM)'])).toEqual({ from: ['Ann <ann@example.org>'], subject: ['node one'] });
      expect(msgs[1].bodies.TEXT).toBe('beta body\r\n');
      // openBox(readOnly=false) is a SELECT, the first to see both appends: \Recent for this session (RFC 3501 §2.3.2).
      expect(msgs[0].attrs.flags).toEqual(['\\Seen', '\\Recent']);
      // @types/imap omits `envelope` from the attributes type; node-imap fills it when asked.
      expect((msgs[0].attrs as unknown as { envelope: { subject: string } }).envelope.subject).toBe('node one');
      expect(msgs[0].attrs.struct?.[0]).toMatchObject({ type: 'text', subtype: 'plain' });

      const full = await fetchAll(imap.fetch('2', { bodies: '' }));
      expect(full[0].bodies['']).toBe(raw2);

      expect(await call<number[]>((cb) => imap.search([['FROM', 'ben']], cb))).toEqual([2]);
      expect(await call<number[]>((cb) => imap.search(['UNSEEN'], cb))).toEqual([2]);
      expect(await call<number[]>((cb) => imap.search([['BODY', 'alpha']], cb))).toEqual([1]);

      await call<void>((cb) => imap.addFlags(2, ['\\Flagged'], (err) => cb(err, undefined)));
      await call<void>((cb) => imap.addKeywords(2, ['Work'], (err) => cb(err, undefined)));
      const flagged = await fetchAll(imap.fetch('2', {}));
      expect([...flagged[0].attrs.flags].sort()).toEqual(['Work', '\\Flagged', '\\Recent']);
      await call<void>((cb) => imap.delKeywords(2, ['Work'], (err) => cb(err, undefined)));

      await call<void>((cb) => imap.copy([1, 2], 'Archive', (err) => cb(err, undefined)));
      await call<void>((cb) => imap.move(1, 'Trash', (err) => cb(err, undefined)));
      await call<void>((cb) => imap.addFlags(2, ['\\Deleted'], (err) => cb(err, undefined)));
      await call<void>((cb) => imap.expunge((err) => cb(err, undefined)));
      const st = await call<Imap.Box>((cb) => imap.status('Archive', cb));
      expect(st.messages.total).toBe(2);
      // node-imap refuses STATUS on the selected mailbox: check it through a new SEARCH instead.
      expect(await call<number[]>((cb) => imap.search(['ALL'], cb))).toEqual([]);

      const quota = await call<Record<string, { storage?: { usage: number; limit: number }; message?: { usage: number; limit: number } }>>((cb) =>
        (imap as unknown as { getQuotaRoot: (b: string, cb: (e: Error | null, v: unknown) => void) => void }).getQuotaRoot('INBOX', cb as (e: Error | null, v: unknown) => void),
      );
      expect(Object.keys(quota)).toEqual(['']);
      expect(quota[''].storage?.limit).toBe(2048);
      expect(quota[''].message).toEqual({ usage: 3, limit: 50 });
    } finally {
      await end(imap);
    }
  });

  it('an idling client is told about new mail', async () => {
    const watcher = await connect();
    const writer = await connect();
    try {
      await call<Imap.Box>((cb) => watcher.openBox('INBOX', true, cb));
      const mail = new Promise<number>((resolve, reject) => {
        // A bound for a notification that never comes, not a speed check: on a loaded CI machine
        // the APPEND, its durable write and the IDLE push can take well over 8 s together.
        const t = setTimeout(() => reject(new Error('no mail event')), 20_000);
        watcher.once('mail', (n: number) => {
          clearTimeout(t);
          resolve(n);
        });
      });
      await call<void>((cb) => writer.append(message('wake up'), { mailbox: 'INBOX' }, (err) => cb(err, undefined)));
      expect(await mail).toBe(1);
    } finally {
      await end(writer);
      await end(watcher);
    }
  });
});
