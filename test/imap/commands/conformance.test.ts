import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { imapAppend, imapLogin, message, norm } from '../../helpers/imap';
import type { LineClient } from '../../helpers/line-client';
import { startTestNode, type TestNode } from '../../helpers/node';
import type { TestUser } from '../../helpers/users';

/**
 * Conformance rules clients rely on under concurrency (issue 15), over raw
 * sockets with real sessions, grouped by the RFC section that decides.
 * Each row is a command and the exact reply lines (TAG stands for the tag;
 * UIDVALIDITY, INTERNALDATE and HIGHESTMODSEQ normalised).
 */
type Row = [command: string, reply: string[]];

/** One user per describe block, so the blocks do not see each other's folders. */
const USERS = ['expunged', 'lsub', 'keywords', 'examine', 'search', 'self', 'names', 'nil', 'bye'] as const;
const user = (name: (typeof USERS)[number]): TestUser => ({ address: `${name}@example.com`, password: `${name}-pw` });

let node: TestNode;
const open: LineClient[] = [];
beforeAll(async () => {
  node = await startTestNode({ users: USERS.map(user) });
});
afterAll(() => node.dispose());
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

async function login(name: (typeof USERS)[number]): Promise<LineClient> {
  const u = user(name);
  const c = await imapLogin(node.imapPort, u.address, u.password);
  open.push(c);
  return c;
}

const clean = (lines: string[]): string[] => norm(lines).map((l) => l.replace(/HIGHESTMODSEQ \d+/, 'HIGHESTMODSEQ <m>'));

let tagNo = 0;
async function script(c: LineClient, rows: Row[]): Promise<void> {
  for (const [command, reply] of rows) {
    const tag = `k${++tagNo}`;
    const got = clean(await c.command(tag, command)).map((l) => l.replace(new RegExp(`^${tag} `), 'TAG '));
    expect({ command, reply: got }).toEqual({ command, reply });
  }
}

/** A folder with these messages, made by a session that then leaves. */
async function folderWith(name: (typeof USERS)[number], folder: string, messages: string[]): Promise<void> {
  const c = await login(name);
  if (folder !== 'INBOX') expect(norm(await c.command('c', `CREATE ${folder}`))).toEqual(['c OK [MAILBOXID <id>] CREATE completed']);
  for (const [i, m] of messages.entries()) expect((await imapAppend(c, `a${i}`, folder, m))[1]).toMatch(/^a\d+ OK \[APPENDUID /);
  c.close();
}

const SYSTEM = '\\Answered \\Flagged \\Deleted \\Seen \\Draft';
const size = (m: string): number => Buffer.byteLength(m);

describe('RFC 2180 §4.1.2, RFC 3501 §7.4.1, RFC 5530 §3: FETCH of a message another session expunged', () => {
  const msgs = ['one', 'two', 'three'].map((s) => message(s));
  it('answers the data it still has and NO [EXPUNGEISSUED], never a silent OK; UID FETCH announces the EXPUNGE', async () => {
    await folderWith('expunged', 'Gone', msgs);
    const a = await login('expunged');
    const b = await login('expunged');
    await a.command('s', 'SELECT Gone');
    await script(b, [
      ['SELECT Gone', expect.arrayContaining(['* 3 EXISTS']) as unknown as string[]],
      ['STORE 2 +FLAGS.SILENT (\\Deleted)', ['TAG OK STORE completed']],
      ['EXPUNGE', ['* 2 EXPUNGE', 'TAG OK EXPUNGE completed']],
    ]);
    const gone = 'TAG NO [EXPUNGEISSUED] Some of the requested messages no longer exist';
    await script(a, [
      // Message 2 is still number 2 for this session: FETCH may not send EXPUNGE (RFC 3501 §7.4.1).
      ['FETCH 2 FLAGS', [gone]],
      ['FETCH 2 BODY.PEEK[]', [gone]],
      ['FETCH 2 (UID RFC822.SIZE)', [gone]],
      ['FETCH 1:3 (UID RFC822.SIZE)', [`* 1 FETCH (UID 1 RFC822.SIZE ${size(msgs[0])})`, `* 3 FETCH (UID 3 RFC822.SIZE ${size(msgs[2])})`, gone]],
      // A body fetch without .PEEK still sets \Seen on the messages that exist.
      ['FETCH 2:3 BODY[TEXT]', ['* 3 FETCH (BODY[TEXT] {7}', 'hello', ' FLAGS (\\Seen \\Recent))', gone]],
      ['STORE 2 +FLAGS.SILENT (\\Flagged)', ['TAG OK STORE completed']],
      ['SEARCH ALL', ['* SEARCH 1 3', 'TAG OK SEARCH completed']],
      // UID FETCH may announce the expunge (RFC 3501 §7.4.1), so the client learns why nothing came back.
      ['UID FETCH 2 FLAGS', ['* 2 EXPUNGE', 'TAG OK FETCH completed']],
      ['FETCH 1:* UID', ['* 1 FETCH (UID 1)', '* 2 FETCH (UID 3)', 'TAG OK FETCH completed']],
    ]);
  });
});

describe('RFC 3501 §6.3.9 LSUB with "%": \\Noselect parents of subscribed children', () => {
  it.each<Row>([
    [
      'LSUB "" "%"',
      [
        '* LSUB () "/" "INBOX"',
        '* LSUB () "/" "Archive"',
        '* LSUB () "/" "Drafts"',
        '* LSUB () "/" "Junk"',
        '* LSUB () "/" "Sent"',
        '* LSUB () "/" "Trash"',
        // Neither "a" nor "x" is subscribed; "a" exists, "x" does not: both are \Noselect here (§6.3.9).
        '* LSUB (\\Noselect) "/" "a"',
        '* LSUB (\\Noselect) "/" "x"',
        'TAG OK LSUB completed',
      ],
    ],
    ['LSUB "" "a/%"', ['* LSUB (\\Noselect) "/" "a/b"', 'TAG OK LSUB completed']],
    ['LSUB "a/" "%"', ['* LSUB (\\Noselect) "/" "a/b"', 'TAG OK LSUB completed']],
    ['LSUB "" "a/b/%"', ['* LSUB () "/" "a/b/c"', '* LSUB () "/" "a/b/d"', 'TAG OK LSUB completed']],
    // "*" reaches the subscribed names themselves: no parents.
    ['LSUB "" "a*"', ['* LSUB () "/" "a/b/c"', '* LSUB () "/" "a/b/d"', 'TAG OK LSUB completed']],
    ['LSUB "" "x/%"', ['* LSUB (\\Noselect) "/" "x/y"', 'TAG OK LSUB completed']],
    ['LSUB "" "%/%"', ['* LSUB (\\Noselect) "/" "a/b"', '* LSUB (\\Noselect) "/" "x/y"', 'TAG OK LSUB completed']],
    ['LSUB "" "nothing/%"', ['TAG OK LSUB completed']],
    // Only a trailing "%" stops short of a subscribed name; other patterns that miss it answer nothing.
    ['LSUB "" "a"', ['TAG OK LSUB completed']],
    ['LSUB "" "%/b"', ['TAG OK LSUB completed']],
  ])('%s', async (command, reply) => {
    const c = await login('lsub');
    if (!(await c.command('p', 'LIST "" "a/b/c"')).some((l) => l.includes('"a/b/c"'))) {
      for (const cmd of ['CREATE a/b/c', 'CREATE a/b/d', 'SUBSCRIBE a/b/c', 'SUBSCRIBE a/b/d', 'CREATE x/y/z', 'SUBSCRIBE x/y/z', 'DELETE x/y/z']) {
        expect(norm(await c.command('s', cmd))).toEqual([`s OK ${cmd.startsWith('CREATE') ? '[MAILBOXID <id>] ' : ''}${cmd.split(' ')[0]} completed`]);
      }
    }
    await script(c, [[command, reply]]);
  });

  it('a subscribed parent is listed once, with its own attributes', async () => {
    const c = await login('lsub');
    await script(c, [
      ['CREATE p/q', ['TAG OK [MAILBOXID <id>] CREATE completed']],
      ['SUBSCRIBE p/q', ['TAG OK SUBSCRIBE completed']],
      ['SUBSCRIBE p', ['TAG OK SUBSCRIBE completed']],
      ['LSUB "" "p%"', ['* LSUB () "/" "p"', 'TAG OK LSUB completed']],
      ['LSUB "" "p*"', ['* LSUB () "/" "p"', '* LSUB () "/" "p/q"', 'TAG OK LSUB completed']],
    ]);
  });
});

describe('RFC 3501 §7.2.6 FLAGS (and §7.1 PERMANENTFLAGS) when a new keyword appears in the selected mailbox', () => {
  const flagsLine = (kws: string): string => `* FLAGS (${SYSTEM}${kws ? ` ${kws}` : ''})`;
  const permanent = (kws: string): string => `* OK [PERMANENTFLAGS (${SYSTEM}${kws ? ` ${kws}` : ''} \\*)] Flags permitted`;
  it('our own STORE, another session\'s STORE and APPEND, and a read-only session', async () => {
    await folderWith('keywords', 'Kw', [message('k1'), message('k2')]);
    const a = await login('keywords');
    const b = await login('keywords');
    const ro = await login('keywords');
    await a.command('s', 'SELECT Kw');
    await b.command('s', 'SELECT Kw');
    await ro.command('s', 'EXAMINE Kw');
    await script(a, [
      ['STORE 1 +FLAGS ($Work)', [flagsLine('$Work'), permanent('$Work'), '* 1 FETCH (FLAGS ($Work \\Recent))', 'TAG OK STORE completed']],
      // Known now: no FLAGS again; keywords compare case-insensitively (RFC 3501 §2.3.2).
      ['STORE 2 +FLAGS ($work)', ['* 2 FETCH (FLAGS ($Work \\Recent))', 'TAG OK STORE completed']],
      // .SILENT suppresses the FETCH, not the FLAGS update.
      ['STORE 2 +FLAGS.SILENT ($Quiet)', [flagsLine('$Quiet $Work'), permanent('$Quiet $Work'), 'TAG OK STORE completed']],
    ]);
    await script(b, [
      // One FLAGS with every keyword of the mailbox; .SILENT does not hide what a's STOREs changed (RFC 3501 §6.4.6 hides only our own).
      [
        'STORE 1 +FLAGS.SILENT (Todo)',
        [flagsLine('$Quiet $Work Todo'), permanent('$Quiet $Work Todo'), '* 1 FETCH (FLAGS ($Work Todo) UID 1)', '* 2 FETCH (FLAGS ($Work $Quiet) UID 2)', 'TAG OK STORE completed'],
      ],
    ]);
    await script(a, [['NOOP', [flagsLine('$Quiet $Work Todo'), permanent('$Quiet $Work Todo'), '* 1 FETCH (FLAGS ($Work Todo \\Recent) UID 1)', 'TAG OK NOOP completed']]]);
    // FETCH FLAGS of a message whose keyword was added elsewhere: FLAGS comes before the FETCH that shows it.
    await script(b, [['STORE 2 +FLAGS.SILENT (Later)', [flagsLine('$Quiet $Work Later Todo'), permanent('$Quiet $Work Later Todo'), 'TAG OK STORE completed']]]);
    await script(a, [
      [
        'FETCH 2 FLAGS',
        [flagsLine('$Quiet $Work Later Todo'), permanent('$Quiet $Work Later Todo'), '* 2 FETCH (FLAGS ($Work $Quiet Later \\Recent))', '* 2 FETCH (FLAGS ($Work $Quiet Later \\Recent) UID 2)', 'TAG OK FETCH completed'],
      ],
    ]);
    const w = await login('keywords');
    expect((await imapAppend(w, 'w', 'Kw', message('k3'), '($Fresh)'))[1]).toMatch(/^w OK /);
    await script(a, [['NOOP', [flagsLine('$Fresh $Quiet $Work Later Todo'), permanent('$Fresh $Quiet $Work Later Todo'), '* 3 EXISTS', '* 3 RECENT', 'TAG OK NOOP completed']]]);
    // A read-only session gets the new list too; it may not store, so PERMANENTFLAGS stays empty.
    await script(ro, [
      [
        'NOOP',
        [
          flagsLine('$Fresh $Quiet $Work Later Todo'),
          '* OK [PERMANENTFLAGS ()] Read-only mailbox',
          '* 3 EXISTS',
          '* 1 FETCH (FLAGS ($Work Todo) UID 1)',
          '* 2 FETCH (FLAGS ($Work $Quiet Later) UID 2)',
          'TAG OK NOOP completed',
        ],
      ],
    ]);
  });
});

describe('RFC 3501 §6.3.2 EXAMINE reports \\Recent without claiming it', () => {
  it('EXAMINE counts and shows the recent messages; a later SELECT still claims them', async () => {
    await folderWith('examine', 'Fresh', [message('e1'), message('e2')]);
    const ro = await login('examine');
    await script(ro, [
      [
        'EXAMINE Fresh',
        [
          `* FLAGS (${SYSTEM})`,
          '* OK [PERMANENTFLAGS ()] Read-only mailbox',
          '* 2 EXISTS',
          '* 2 RECENT',
          '* OK [UNSEEN 1] First unseen',
          '* OK [UIDVALIDITY <v>] UIDs valid',
          '* OK [UIDNEXT 3] Predicted next UID',
          '* OK [MAILBOXID <id>] Ok',
          '* OK [HIGHESTMODSEQ <m>] Highest',
          'TAG OK [READ-ONLY] EXAMINE completed',
        ],
      ],
      ['FETCH 1:* FLAGS', ['* 1 FETCH (FLAGS (\\Recent))', '* 2 FETCH (FLAGS (\\Recent))', 'TAG OK FETCH completed']],
      ['SEARCH RECENT', ['* SEARCH 1 2', 'TAG OK SEARCH completed']],
      ['STATUS Fresh (RECENT)', ['* STATUS "Fresh" (RECENT 2)', 'TAG OK STATUS completed']],
    ]);
    const w = await login('examine');
    expect((await imapAppend(w, 'w', 'Fresh', message('e3')))[1]).toMatch(/^w OK /);
    await script(ro, [['NOOP', ['* 3 EXISTS', '* 3 RECENT', 'TAG OK NOOP completed']]]);
    const rw = await login('examine');
    await script(rw, [['SELECT Fresh', expect.arrayContaining(['* 3 EXISTS', '* 3 RECENT']) as unknown as string[]]]);
    // Claimed now: a new EXAMINE sees none; the first one keeps what it was told.
    const ro2 = await login('examine');
    await script(ro2, [['EXAMINE Fresh', expect.arrayContaining(['* 3 EXISTS', '* 0 RECENT']) as unknown as string[]]]);
    await script(ro, [['SEARCH RECENT', ['* SEARCH 1 2 3', 'TAG OK SEARCH completed']]]);
  });
});

describe('RFC 3501 §6.4.4 SEARCH FROM/TO/CC/BCC look at the envelope address', () => {
  const msgs = [
    'From: jdoe(at work)@example.com\r\nSubject: 1\r\n\r\nx\r\n',
    'From: "Doe, \\"JD\\" John" <jd@example.org>\r\nSubject: 2\r\n\r\nx\r\n',
    'From: a@example.com\r\nTo: Q <"john.q"@example.net>\r\nSubject: 3\r\n\r\nx\r\n',
    'From: a@example.com\r\nCc: =?utf-8?q?J=C3=B6rg?= <joerg@example.com>\r\nSubject: 4\r\n\r\nx\r\n',
    'From: a@example.com\r\nBcc: friends: ann@x.example, bob@y.example;\r\nSubject: 5\r\n\r\nx\r\n',
    'From: Ann Smith\r\n <ann.smith@example.com>\r\nSubject: 6\r\n\r\nx\r\n',
    'From: Ann <ann@example.com> (Sales)\r\nSubject: 7\r\n\r\nx\r\n',
    'From: jq @ example . com (John Q)\r\nSubject: 8\r\n\r\nx\r\n',
  ];
  it.each<Row>([
    // A comment inside the address is not part of it.
    ['SEARCH FROM "jdoe@example.com"', ['* SEARCH 1', 'TAG OK SEARCH completed']],
    // Quoted-pairs in a display name are undone.
    ['SEARCH FROM "Doe, \\"JD\\" John"', ['* SEARCH 2', 'TAG OK SEARCH completed']],
    ['SEARCH FROM "\\"JD\\" John <jd@"', ['* SEARCH 2', 'TAG OK SEARCH completed']],
    // A quoted local part is compared without its quotes.
    ['SEARCH TO "john.q@example.net"', ['* SEARCH 3', 'TAG OK SEARCH completed']],
    ['SEARCH TO "Q <john.q@"', ['* SEARCH 3', 'TAG OK SEARCH completed']],
    // The display name is decoded (RFC 2047) like other header text.
    ['SEARCH CHARSET UTF-8 CC "J\u00f6rg <joerg@example.com>"', ['* SEARCH 4', 'TAG OK SEARCH completed']],
    // Group members count; the group name is part of the field.
    ['SEARCH BCC "bob@y.example"', ['* SEARCH 5', 'TAG OK SEARCH completed']],
    ['SEARCH BCC friends', ['* SEARCH 5', 'TAG OK SEARCH completed']],
    // Folding whitespace is gone.
    ['SEARCH FROM "Ann Smith <ann.smith@example.com>"', ['* SEARCH 6', 'TAG OK SEARCH completed']],
    // A comment after an angle address is not in the envelope (RFC 5322 §3.4 name-addr).
    ['SEARCH FROM Sales', ['* SEARCH', 'TAG OK SEARCH completed']],
    ['SEARCH FROM "Ann <ann@example.com>"', ['* SEARCH 7', 'TAG OK SEARCH completed']],
    // Spaces around "@" and "." (obsolete syntax) are not part of the address; the comment is its name.
    ['SEARCH FROM "jq@example.com"', ['* SEARCH 8', 'TAG OK SEARCH completed']],
    ['SEARCH FROM "John Q <jq@example.com>"', ['* SEARCH 8', 'TAG OK SEARCH completed']],
    ['SEARCH NOT FROM "example.com"', ['* SEARCH 2', 'TAG OK SEARCH completed']],
    // HEADER still looks at the raw field (RFC 3501 §6.4.4 HEADER).
    ['SEARCH HEADER From "(Sales)"', ['* SEARCH 7', 'TAG OK SEARCH completed']],
  ])('%s', async (command, reply) => {
    const c = await login('search');
    if (!(await c.command('p', 'STATUS Addr (MESSAGES)')).includes(`* STATUS "Addr" (MESSAGES ${msgs.length})`)) {
      await c.command('c', 'CREATE Addr');
      for (const [i, m] of msgs.entries()) await imapAppend(c, `a${i}`, 'Addr', m);
    }
    await c.command('s', 'EXAMINE Addr');
    if (command.includes('\u00f6')) {
      // The non-ASCII string goes as a literal.
      const [head, lit] = [command.slice(0, command.indexOf('"J')), command.slice(command.indexOf('"J') + 1, -1)];
      const bytes = Buffer.from(lit, 'utf8');
      c.send(`u ${head}{${bytes.length}}`);
      expect(await c.readLine()).toBe('+ Ready for literal data');
      c.write(Buffer.concat([bytes, Buffer.from('\r\n')]));
      expect((await c.readUntil((l) => l.startsWith('u '))).map((l) => l.replace(/^u /, 'TAG '))).toEqual(reply);
      return;
    }
    await script(c, [[command, reply]]);
  });
});

describe('RFC 6851 §3.1, RFC 3501 §6.4.7: MOVE and COPY into the selected mailbox', () => {
  it('are allowed: the copies arrive as new messages (new UIDs), MOVE expunges the originals', async () => {
    await folderWith('self', 'Loop', [message('l1'), message('l2')]);
    const c = await login('self');
    await script(c, [
      ['SELECT Loop', expect.arrayContaining(['* 2 EXISTS', '* 2 RECENT']) as unknown as string[]],
      ['COPY 1 Loop', ['* 3 EXISTS', '* 3 RECENT', 'TAG OK [COPYUID <v> 1 3] COPY completed']],
      // The session is told about the moved copy first and claims it: still three \Recent, so no RECENT (§7.3.2).
      ['MOVE 2 Loop', ['* OK [COPYUID <v> 2 4] Moved', '* 2 EXPUNGE', '* 3 EXISTS', 'TAG OK MOVE completed']],
      ['UID MOVE 1 Loop', ['* OK [COPYUID <v> 1 5] Moved', '* 1 EXPUNGE', '* 3 EXISTS', 'TAG OK MOVE completed']],
      ['FETCH 1:* UID', ['* 1 FETCH (UID 3)', '* 2 FETCH (UID 4)', '* 3 FETCH (UID 5)', 'TAG OK FETCH completed']],
      ['UID COPY 3:5 INBOX', ['TAG OK [COPYUID <v> 3:5 1:3] COPY completed']],
    ]);
  });
});

describe('RFC 3501 §5.1.3, §9: a mailbox name that is an atom but not modified UTF-7 is NO, not BAD', () => {
  const cannot = (cmd: string): string => `TAG NO [CANNOT] ${cmd}: Mailbox name is not valid modified UTF-7`;
  it.each<Row>([
    ['CREATE bad&name', [cannot('CREATE')]],
    ['CREATE "bad&name"', [cannot('CREATE')]],
    ['SELECT x&AGE-', [cannot('SELECT')]],
    ['EXAMINE x&Jjo', [cannot('EXAMINE')]],
    ['DELETE bad&name', [cannot('DELETE')]],
    ['RENAME INBOX bad&name', [cannot('RENAME')]],
    ['SUBSCRIBE bad&name', [cannot('SUBSCRIBE')]],
    ['UNSUBSCRIBE bad&name', [cannot('UNSUBSCRIBE')]],
    ['STATUS bad&name (MESSAGES)', [cannot('STATUS')]],
    // Well-formed names still work, and real syntax errors stay BAD.
    ['CREATE "K&AOQ-se&-"', ['TAG OK [MAILBOXID <id>] CREATE completed']],
    ['CREATE "unterminated', [expect.stringMatching(/^TAG BAD /) as unknown as string]],
    ['CREATE', ['TAG BAD CREATE: CREATE needs a mailbox name and optional parameters']],
  ])('%s', async (command, reply) => {
    await script(await login('names'), [[command, reply]]);
  });

  it('also in APPEND, COPY and MOVE', async () => {
    const c = await login('names');
    expect(await imapAppend(c, 'a', 'bad&name', message('n'))).toEqual(['+ Ready for literal data', 'a NO [CANNOT] APPEND: Mailbox name is not valid modified UTF-7']);
    await imapAppend(c, 'b', 'INBOX', message('n'));
    await script(c, [
      ['SELECT INBOX', expect.arrayContaining(['TAG OK [READ-WRITE] SELECT completed']) as unknown as string[]],
      ['COPY 1 bad&name', [cannot('COPY')]],
      ['MOVE 1 bad&name', [cannot('MOVE')]],
      ['NOOP', ['TAG OK NOOP completed']],
    ]);
  });
});

describe('RFC 3501 §9 flag-keyword = atom: NIL is a keyword like any other', () => {
  it('STORE, APPEND, FETCH and SEARCH accept it', async () => {
    const c = await login('nil');
    await c.command('c', 'CREATE Nil');
    expect((await imapAppend(c, 'a', 'Nil', message('nil1'), '(NIL)'))[1]).toMatch(/^a OK /);
    await imapAppend(c, 'b', 'Nil', message('nil2'));
    await script(c, [
      ['SELECT Nil', expect.arrayContaining([`* FLAGS (${SYSTEM} NIL)`]) as unknown as string[]],
      ['FETCH 1 FLAGS', ['* 1 FETCH (FLAGS (NIL \\Recent))', 'TAG OK FETCH completed']],
      ['STORE 2 +FLAGS (nil $Other)', [`* FLAGS (${SYSTEM} $Other NIL)`, `* OK [PERMANENTFLAGS (${SYSTEM} $Other NIL \\*)] Flags permitted`, '* 2 FETCH (FLAGS (NIL $Other \\Recent))', 'TAG OK STORE completed']],
      ['SEARCH KEYWORD NIL', ['* SEARCH 1 2', 'TAG OK SEARCH completed']],
      ['STORE 1 -FLAGS NIL', ['* 1 FETCH (FLAGS (\\Recent))', 'TAG OK STORE completed']],
      ['SEARCH UNKEYWORD nil', ['* SEARCH 1', 'TAG OK SEARCH completed']],
      // A number is an atom too.
      ['STORE 1 +FLAGS (2024)', [`* FLAGS (${SYSTEM} $Other 2024 NIL)`, `* OK [PERMANENTFLAGS (${SYSTEM} $Other 2024 NIL \\*)] Flags permitted`, '* 1 FETCH (FLAGS (2024 \\Recent))', 'TAG OK STORE completed']],
      // Still refused: a string is not an atom.
      ['STORE 1 +FLAGS ("NIL")', ['TAG BAD STORE: Invalid flag']],
    ]);
  });
});

describe('RFC 3501 §6.1.3, §7.1.5: BYE is the last untagged response, and a command still gets its tagged reply', () => {
  it('LOGOUT sends no mailbox updates after BYE', async () => {
    await folderWith('bye', 'Busy', [message('b1')]);
    const a = await login('bye');
    await a.command('s', 'SELECT Busy');
    const w = await login('bye');
    await imapAppend(w, 'w', 'Busy', message('b2'));
    await w.command('s', 'SELECT Busy');
    await w.command('f', 'STORE 1 +FLAGS.SILENT (\\Flagged)');
    await script(a, [['LOGOUT', ['* BYE Logging out', 'TAG OK LOGOUT completed']]]);
    await a.waitClosed();
  });

  it('DELETE of the selected mailbox: tagged OK, then BYE', async () => {
    await folderWith('bye', 'Doomed', [message('d1')]);
    const a = await login('bye');
    await a.command('s', 'SELECT Doomed');
    await script(a, [['DELETE Doomed', ['TAG OK DELETE completed']]]);
    expect(await a.readLine()).toBe('* BYE [UNAVAILABLE] Selected mailbox was deleted');
    await a.waitClosed();
    const b = await login('bye');
    await script(b, [['STATUS Doomed (MESSAGES)', [expect.stringMatching(/^TAG NO \[NONEXISTENT\] /) as unknown as string]]]);
  });

  it('a failed DELETE of the selected mailbox leaves it selected', async () => {
    const a = await login('bye');
    await script(a, [
      ['SELECT INBOX', expect.arrayContaining(['TAG OK [READ-WRITE] SELECT completed']) as unknown as string[]],
      ['DELETE INBOX', ['TAG NO [CANNOT] INBOX cannot be deleted']],
      ['NOOP', ['TAG OK NOOP completed']],
    ]);
  });

  it('LOGOUT after another session deleted the selected mailbox: one BYE, then the tagged OK', async () => {
    await folderWith('bye', 'Pulled', [message('p1')]);
    const a = await login('bye');
    await a.command('s', 'SELECT Pulled');
    const b = await login('bye');
    await script(b, [['DELETE Pulled', ['TAG OK DELETE completed']]]);
    await script(a, [['LOGOUT', ['* BYE Logging out', 'TAG OK LOGOUT completed']]]);
    await a.waitClosed();
  });

  it('other commands in that session still end with BYE [UNAVAILABLE] (RFC 3501 §7.1.5)', async () => {
    await folderWith('bye', 'Pulled2', [message('p1')]);
    const a = await login('bye');
    await a.command('s', 'SELECT Pulled2');
    const b = await login('bye');
    await script(b, [['DELETE Pulled2', ['TAG OK DELETE completed']]]);
    a.send('n NOOP');
    expect(await a.readLine()).toBe('* BYE [UNAVAILABLE] Selected mailbox was deleted');
    await a.waitClosed();
  });
});
