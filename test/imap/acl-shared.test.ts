import { ImapFlow } from 'imapflow';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { imapAppend, imapLogin, message } from '../helpers/imap';
import type { LineClient } from '../helpers/line-client';
import { startTestNode, type TestNode } from '../helpers/node';
import { ALICE, BOB, type TestUser } from '../helpers/users';

/**
 * The shared namespace `Shared/` (RFC 2342 §5) and alias identifiers in
 * ACLs (RFC 4314 §2, §3.1), over raw sockets and with imapflow. alice
 * administers example.com's shared folders (config `sharedFolders`); bob
 * (alias `lead@example.com`) and carol are users of the same domain; dave
 * is in another domain and must see nothing of example.com's tree.
 */
const BOB_WITH_ALIAS: TestUser = { ...BOB, aliases: ['lead@example.com'] };
const CAROL: TestUser = { address: 'carol@example.com', password: 'carol-pw' };
const DAVE: TestUser = { address: 'dave@other.test', password: 'dave-pw' };
const SUPPORT = '"Shared/Support"';
let node: TestNode;
const open: LineClient[] = [];

beforeAll(async () => {
  node = await startTestNode({ users: [ALICE, BOB_WITH_ALIAS, CAROL, DAVE], sharedFolders: { admins: { 'example.com': [ALICE.address] } } });
  const a = await login(ALICE);
  expect(last(await a.command('c', `CREATE ${SUPPORT}`))).toMatch(/^c OK .*CREATE completed$/);
  expect((await imapAppend(a, 'p', 'Shared/Support', message('ticket 1'))).at(-1)).toMatch(/^p OK/);
  a.close();
}, 60_000);
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});
afterAll(() => node?.dispose());

async function login(u: TestUser): Promise<LineClient> {
  const c = await imapLogin(node.imapPort, u.address, u.password);
  open.push(c);
  return c;
}

const last = (lines: string[]) => lines[lines.length - 1];

async function grantBob(rights: string): Promise<void> {
  const a = await login(ALICE);
  expect(await a.command('g', `SETACL ${SUPPORT} bob@example.com ${rights}`)).toEqual(['g OK SETACL completed']);
  a.close();
}

describe('RFC 2342 §5: the shared namespace', () => {
  it('NAMESPACE names Shared/ as the third (shared) namespace with its delimiter', async () => {
    const c = await login(BOB_WITH_ALIAS);
    expect(await c.command('a', 'NAMESPACE')).toEqual(['* NAMESPACE (("" "/")) (("Other Users/" "/")) (("Shared/" "/"))', 'a OK NAMESPACE completed']);
  });

  it('the administrator holds every right; the owner GETACL names is the domain\'s pseudo-owner', async () => {
    const a = await login(ALICE);
    expect(await a.command('m', `MYRIGHTS ${SUPPORT}`)).toEqual(['* MYRIGHTS "Shared/Support" "lrswipkxteacd"', 'm OK MYRIGHTS completed']);
    expect((await a.command('g', `GETACL ${SUPPORT}`))[0]).toMatch(/^\* ACL "Shared\/Support" "#shared@example\.com" "lrswipkxteacd"/);
    expect(await a.command('l', 'LIST "" "Shared/%"')).toContainEqual('* LIST (\\HasNoChildren) "/" "Shared/Support"');
    expect(await a.command('s', `STATUS ${SUPPORT} (MESSAGES)`)).toEqual(['* STATUS "Shared/Support" (MESSAGES 1)', 's OK STATUS completed']);
    // The pseudo-owner's INBOX is no shared folder.
    expect(await a.command('p', 'LIST "" "Shared/*"')).not.toContainEqual(expect.stringContaining('INBOX'));
    expect(last(await a.command('q', 'SELECT "Shared/INBOX"'))).toBe('q NO [NONEXISTENT] No such mailbox');
    expect(last(await a.command('r', 'CREATE "Shared/inbox/x"'))).toBe('r NO [CANNOT] CREATE: INBOX is not a name for a Shared/ folder');
  });

  it('a user without rights sees nothing and cannot create top-level shared folders', async () => {
    const c = await login(CAROL);
    expect(await c.command('a', 'LIST "" "Shared/*"')).toEqual(['a OK LIST completed']);
    expect(last(await c.command('b', `SELECT ${SUPPORT}`))).toBe('b NO [NONEXISTENT] No such mailbox');
    expect(last(await c.command('c', 'CREATE "Shared/Mine"'))).toBe('c NO [NOPERM] Permission denied: CREATE of a top-level folder in the Shared namespace (only its administrators)');
    expect(last(await c.command('d', 'CREATE Shared'))).toBe('d NO [NOPERM] CREATE: cannot create in the Shared namespace itself');
    expect(last(await imapAppend(c, 'e', 'Shared/Support', message('from carol')))).toMatch(/^e NO \[(NONEXISTENT|TRYCREATE)\]/);
  });

  it('a user of another domain sees nothing of it: Shared/ is always her own domain\'s tree', async () => {
    const d = await login(DAVE);
    expect(await d.command('a', 'LIST "" "Shared/*"')).toEqual(['a OK LIST completed']);
    expect(last(await d.command('b', `SELECT ${SUPPORT}`))).toBe('b NO [NONEXISTENT] No such mailbox');
    expect(last(await d.command('c', 'CREATE "Shared/Support"'))).toMatch(/^c NO \[NOPERM\]/);
    expect(last(await d.command('d', 'SELECT "Other Users/#shared@example.com/Support"'))).toBe('d NO [NONEXISTENT] No such mailbox');
    // Not through Other Users either, for a user of the same domain.
    const b = await login(BOB_WITH_ALIAS);
    expect(last(await b.command('e', 'SELECT "Other Users/#shared@example.com/Support"'))).toBe('e NO [NONEXISTENT] No such mailbox');
  });

  it('names cannot escape the shared tree', async () => {
    await grantBob('lr');
    const b = await login(BOB_WITH_ALIAS);
    expect(last(await b.command('a', 'SELECT "Shared/../bob@example.com/INBOX"'))).toMatch(/^a NO \[CANNOT\] Invalid mailbox name/);
    expect(last(await b.command('b', 'SELECT "Shared//Support"'))).toMatch(/^b NO \[CANNOT\] Invalid mailbox name/);
    expect(last(await b.command('c', 'SELECT "Shared/Support/.."'))).toMatch(/^c NO \[CANNOT\] Invalid mailbox name/);
    expect(last(await b.command('d', 'SELECT "/Shared/Support"'))).toMatch(/^d NO /);
    const a = await login(ALICE);
    expect(last(await a.command('e', 'CREATE "Shared/../../other.test/#shared/X"'))).toMatch(/^e NO \[CANNOT\] Invalid mailbox name/);
  });
});

describe('RFC 4314 §4 enforcement in Shared/', () => {
  it('lr: listed, read-only; APPEND, STORE, DELETE, SETACL refused with NOPERM', async () => {
    await grantBob('lr');
    const b = await login(BOB_WITH_ALIAS);
    expect(await b.command('a', 'LIST "" "Shared/*"')).toEqual(['* LIST (\\HasNoChildren) "/" "Shared/Support"', 'a OK LIST completed']);
    // `*` reaches the namespace: its root comes as a level above what he may see (RFC 3501 §6.3.8 \Noselect).
    const all = await b.command('z', 'LIST "" *');
    expect(all).toContainEqual('* LIST (\\Noselect \\HasChildren) "/" "Shared"');
    expect(all).toContainEqual('* LIST (\\HasNoChildren) "/" "Shared/Support"');
    expect(last(await b.command('b', `SELECT ${SUPPORT}`))).toBe('b OK [READ-ONLY] SELECT completed');
    expect((await b.command('c', 'FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])')).join('\n')).toContain('Subject: ticket 1');
    expect(last(await imapAppend(b, 'd', 'Shared/Support', message('from bob')))).toBe('d NO [NOPERM] Permission denied: APPEND needs the "i" right');
    expect(last(await b.command('e', `DELETE ${SUPPORT}`))).toBe('e NO [NOPERM] Permission denied: DELETE needs the "x" right');
    expect(last(await b.command('f', `SETACL ${SUPPORT} carol@example.com lr`))).toBe('f NO [NOPERM] Permission denied: SETACL needs the "a" right');
    expect(last(await b.command('g', 'CREATE "Shared/Support/Sub"'))).toBe('g NO [NOPERM] Permission denied: CREATE needs the "k" right');
  });

  it('lrswi: APPEND, COPY and MOVE in; STORE \\Deleted (t) refused; carol still sees nothing', async () => {
    await grantBob('lrswi');
    const b = await login(BOB_WITH_ALIAS);
    expect(last(await imapAppend(b, 'a', 'Shared/Support', message('from bob')))).toMatch(/^a OK \[APPENDUID \d+ \d+\] APPEND completed/);
    expect(last(await imapAppend(b, 'b', 'INBOX', message('to copy')))).toMatch(/^b OK/);
    expect(last(await imapAppend(b, 'c', 'INBOX', message('to move')))).toMatch(/^c OK/);
    expect(last(await b.command('d', 'SELECT INBOX'))).toMatch(/^d OK/);
    expect(last(await b.command('e', `COPY 1 ${SUPPORT}`))).toMatch(/^e OK/);
    expect(last(await b.command('f', `MOVE 2 ${SUPPORT}`))).toMatch(/^f OK/);
    const st = await b.command('g', `STATUS ${SUPPORT} (MESSAGES)`);
    expect(st[0]).toMatch(/^\* STATUS "Shared\/Support" \(MESSAGES \d+\)$/);
    expect(Number(/MESSAGES (\d+)/.exec(st[0]!)![1])).toBeGreaterThanOrEqual(4);
    expect(last(await b.command('h', `SELECT ${SUPPORT}`))).toBe('h OK [READ-WRITE] SELECT completed');
    expect(last(await b.command('i', 'STORE 1 +FLAGS (\\Flagged)'))).toBe('i OK STORE completed');
    expect(last(await b.command('j', 'STORE 1 +FLAGS (\\Deleted)'))).toBe('j NO [NOPERM] Permission denied: STORE of these flags needs the "t" right');
    const c = await login(CAROL);
    expect(await c.command('k', 'LIST "" "Shared/*"')).toEqual(['k OK LIST completed']);
  });
});

describe('Shared/ folders: RENAME, DELETE, SUBSCRIBE and LSUB', () => {
  it('the administrator renames and deletes; LSUB shows a subscribed shared folder only with `l` (RFC 4314 §4)', async () => {
    const a = await login(ALICE);
    expect(last(await a.command('a', 'CREATE "Shared/Tmp"'))).toMatch(/^a OK/);
    expect(last(await a.command('b', 'RENAME "Shared/Tmp" "Shared/Tmp2"'))).toMatch(/^b OK/);
    expect(await a.command('c', 'LIST "" "Shared/Tmp%"')).toEqual(['* LIST (\\HasNoChildren) "/" "Shared/Tmp2"', 'c OK LIST completed']);
    expect(last(await a.command('d', 'DELETE "Shared/Tmp2"'))).toMatch(/^d OK/);
    expect(await a.command('e', 'LIST "" "Shared/Tmp%"')).toEqual(['e OK LIST completed']);

    await grantBob('lr');
    const b = await login(BOB_WITH_ALIAS);
    expect(last(await b.command('f', `SUBSCRIBE ${SUPPORT}`))).toMatch(/^f OK/);
    expect(await b.command('g', 'LSUB "" "Shared/*"')).toEqual(['* LSUB () "/" "Shared/Support"', 'g OK LSUB completed']);
    expect(last(await b.command('h', 'RENAME "Shared/Support" "Shared/Other"'))).toMatch(/^h NO \[NOPERM\]/);
    const c = await login(CAROL);
    await c.command('i', `SUBSCRIBE ${SUPPORT}`);
    expect(await c.command('j', 'LSUB "" "Shared/*"')).toEqual(['j OK LSUB completed']);
  });
});

describe('RFC 4314 §3.1: identifiers are canonicalized through the directory', () => {
  it('an alias of one user is stored as her address; GETACL shows what is stored; DELETEACL by alias removes it', async () => {
    const a = await login(ALICE);
    expect(await a.command('a', `SETACL ${SUPPORT} LEAD@example.com lr`)).toEqual(['a OK SETACL completed']);
    expect((await a.command('b', `GETACL ${SUPPORT}`))[0]).toBe('* ACL "Shared/Support" "#shared@example.com" "lrswipkxteacd" "bob@example.com" "lr"');
    expect(await a.command('c', `DELETEACL ${SUPPORT} lead@example.com`)).toEqual(['c OK DELETEACL completed']);
    expect((await a.command('d', `GETACL ${SUPPORT}`))[0]).toBe('* ACL "Shared/Support" "#shared@example.com" "lrswipkxteacd"');
    // Also in a personal folder: the owner's own alias is the owner.
    expect(last(await a.command('e', 'CREATE Mine'))).toMatch(/^e OK/);
    expect(await a.command('f', 'SETACL Mine lead@example.com lrs')).toEqual(['f OK SETACL completed']);
    expect((await a.command('g', 'GETACL Mine'))[0]).toBe('* ACL "Mine" "alice@example.com" "lrswipkxteacd" "bob@example.com" "lrs"');
    const b = await login(BOB_WITH_ALIAS);
    expect((await b.command('h', 'MYRIGHTS "Other Users/alice@example.com/Mine"'))[0]).toBe('* MYRIGHTS "Other Users/alice@example.com/Mine" "lrs"');
    expect((await b.command('i', 'LISTRIGHTS Mine lead@example.com'))[0]).toBe('* LISTRIGHTS "Mine" "lead@example.com" "lrswipkxteacd"');
  });

  it('an identifier the directory does not know gets NO and changes nothing; anyone is kept as it is', async () => {
    const a = await login(ALICE);
    expect(await a.command('a', `SETACL ${SUPPORT} nobody@example.com lr`)).toEqual([
      'a NO No user nobody@example.com in the directory: rights are granted to users, their single-user aliases, or "anyone"',
    ]);
    expect(await a.command('b', `SETACL ${SUPPORT} #shared@example.com lr`)).toEqual([
      'b NO No user #shared@example.com in the directory: rights are granted to users, their single-user aliases, or "anyone"',
    ]);
    expect(await a.command('c', `SETACL ${SUPPORT} anyone l`)).toEqual(['c OK SETACL completed']);
    expect((await a.command('d', `GETACL ${SUPPORT}`))[0]).toBe('* ACL "Shared/Support" "#shared@example.com" "lrswipkxteacd" "anyone" "l"');
    expect(await a.command('e', `DELETEACL ${SUPPORT} anyone`)).toEqual(['e OK DELETEACL completed']);
  });
});

describe('Shared/ with imapflow', () => {
  it('bob sees the namespace, lists, opens, appends and fetches', async () => {
    await grantBob('lrsi');
    const c = new ImapFlow({ host: '127.0.0.1', port: node.imapPort, secure: false, auth: { user: BOB.address, pass: BOB.password }, logger: false, tls: { rejectUnauthorized: false } });
    await c.connect();
    try {
      const ns = (c as unknown as { namespaces?: { shared?: { prefix: string; delimiter: string }[] | false } }).namespaces;
      expect(ns?.shared).toEqual([{ prefix: 'Shared/', delimiter: '/' }]);
      expect((await c.list()).map((m) => m.path)).toContain('Shared/Support');
      const box = await c.mailboxOpen('Shared/Support');
      expect(box.readOnly).toBe(false);
      const up = await c.append('Shared/Support', message('via imapflow'));
      expect(up && up.uid).toBeGreaterThan(0);
      const msg = await c.fetchOne(String(up && up.uid), { envelope: true }, { uid: true });
      expect(msg && msg.envelope?.subject).toBe('via imapflow');
      await c.mailboxClose();
    } finally {
      await c.logout();
    }
  });
});
