import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeSaslPlain } from '../../../mail-runtime/auth';
import type { LineClient } from '../../helpers/line-client';
import { imapAppend, imapConnect, imapLogin, message, norm } from '../../helpers/imap';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE, BOB } from '../../helpers/users';

/**
 * RFC 3501 over a raw socket, grouped by section. Each row is a command and
 * the exact reply lines (UIDVALIDITY and INTERNALDATE normalised, see norm()).
 */
type Row = [command: string, reply: string[]];

let node: TestNode;
const open: LineClient[] = [];
beforeAll(async () => {
  node = await startTestNode({ users: [ALICE, BOB, { address: 'carol@example.com', password: 'carol-pw' }] });
});
afterAll(() => node.dispose());
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

async function login(user = ALICE): Promise<LineClient> {
  const c = await imapLogin(node.imapPort, user.address, user.password);
  open.push(c);
  return c;
}

async function anon(): Promise<LineClient> {
  const { c } = await imapConnect(node.imapPort);
  open.push(c);
  return c;
}

/** Expected lines use TAG for the tag; matchers (expect.*) pass through. */
function untag(want: unknown, tag: string): unknown {
  return Array.isArray(want) ? want.map((l: unknown) => (typeof l === 'string' ? l.replace(new RegExp(`^${tag} `), 'TAG ') : l)) : want;
}

async function script(c: LineClient, rows: Row[]): Promise<void> {
  let n = 0;
  for (const [command, reply] of rows) {
    const tag = `t${++n}`;
    const got = norm(await c.command(tag, command));
    const want = Array.isArray(reply) ? reply.map((l) => (typeof l === 'string' ? l.replace(/^TAG /, `${tag} `) : l)) : reply;
    expect({ command, reply: got.map((l) => l.replace(new RegExp(`^${tag} `), 'TAG ')) }).toEqual({ command, reply: untag(want, tag) });
  }
}

const PRE_CAPS =
  'IMAP4rev1 IMAP4rev2 STARTTLS AUTH=PLAIN SASL-IR LITERAL- ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT SPECIAL-USE LIST-EXTENDED LIST-STATUS CONDSTORE QRESYNC QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE ESEARCH SEARCHRES SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES ESORT CONTEXT=SEARCH CONTEXT=SORT BINARY STATUS=SIZE CREATE-SPECIAL-USE MULTIAPPEND ACL RIGHTS=texk OBJECTID I18NLEVEL=1 I18NLEVEL=2';
const POST_CAPS =
  'IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT SPECIAL-USE LIST-EXTENDED LIST-STATUS CONDSTORE QRESYNC QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE ESEARCH SEARCHRES SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES ESORT CONTEXT=SEARCH CONTEXT=SORT BINARY STATUS=SIZE CREATE-SPECIAL-USE MULTIAPPEND ACL RIGHTS=texk OBJECTID I18NLEVEL=1 I18NLEVEL=2';

describe('RFC 3501 §7.1.1 greeting', () => {
  it('is an untagged OK carrying the capabilities', async () => {
    const { c, greeting } = await imapConnect(node.imapPort);
    open.push(c);
    expect(greeting).toBe(`* OK [CAPABILITY ${PRE_CAPS}] imap.test IMAP4rev1 ready`);
  });
});

describe('RFC 3501 §6.1 any state', () => {
  it('CAPABILITY, NOOP, LOGOUT', async () => {
    const c = await anon();
    await script(c, [
      ['CAPABILITY', [`* CAPABILITY ${PRE_CAPS}`, 'TAG OK CAPABILITY completed']],
      ['NOOP', ['TAG OK NOOP completed']],
      ['NOOP extra', ['TAG BAD NOOP: No arguments expected']],
      ['LOGOUT', ['* BYE Logging out', 'TAG OK LOGOUT completed']],
    ]);
    await c.waitClosed();
  });
  it('capabilities change after login (§7.2.1)', async () => {
    const c = await login();
    await script(c, [['CAPABILITY', [`* CAPABILITY ${POST_CAPS}`, 'TAG OK CAPABILITY completed']]]);
  });
});

describe('RFC 3501 §6.2 not authenticated state', () => {
  it.each<Row>([
    ['LOGIN alice@example.com wrong', ['TAG NO [AUTHENTICATIONFAILED] Authentication failed']],
    ['LOGIN nobody@example.com "alice secret"', ['TAG NO [AUTHENTICATIONFAILED] Authentication failed']],
    ['LOGIN alice@example.com', ['TAG BAD LOGIN: LOGIN needs a user name and a password']],
    ['LOGIN (a) b', ['TAG BAD LOGIN: User name and password must be strings']],
    ['SELECT INBOX', ['TAG BAD SELECT not allowed now: log in first']],
    ['FETCH 1 FLAGS', ['TAG BAD FETCH not allowed now: log in first']],
    ['AUTHENTICATE CRAM-MD5', ['TAG NO [CANNOT] Unsupported authentication mechanism']],
    ['AUTHENTICATE PLAIN !!!', ['TAG BAD Invalid base64']],
    [`AUTHENTICATE PLAIN ${encodeSaslPlain('alice@example.com', 'alice secret', 'bob@example.com')}`, ['TAG NO [AUTHORIZATIONFAILED] Authorization identity not permitted']],
    ['XYZZY', ['TAG BAD Unknown command XYZZY']],
  ])('%s', async (command, reply) => {
    await script(await anon(), [[command, reply]]);
  });

  it('LOGIN with quoted strings and with literals', async () => {
    const c = await anon();
    await script(c, [['LOGIN "alice@example.com" "alice secret"', [`TAG OK [CAPABILITY ${POST_CAPS}] Logged in`]]]);
    const d = await anon();
    d.send('a LOGIN {17}');
    expect(await d.readLine()).toBe('+ Ready for literal data');
    d.write('alice@example.com {12}\r\n');
    expect(await d.readLine()).toBe('+ Ready for literal data');
    d.write('alice secret\r\n');
    expect(await d.readLine()).toBe(`a OK [CAPABILITY ${POST_CAPS}] Logged in`);
    await script(d, [['LOGIN a b', ['TAG BAD LOGIN not allowed in this state']]]);
  });

  it('AUTHENTICATE PLAIN with SASL-IR (RFC 4959) and with a continuation (§6.2.2); "*" cancels', async () => {
    const c = await anon();
    await script(c, [[`AUTHENTICATE PLAIN ${encodeSaslPlain('bob@example.com', 'bob-pw')}`, [`TAG OK [CAPABILITY ${POST_CAPS}] Logged in`]]]);
    const d = await anon();
    d.send('a AUTHENTICATE PLAIN');
    expect(await d.readLine()).toBe('+ ');
    d.send('*');
    expect(await d.readLine()).toBe('a BAD Authentication cancelled');
    d.send('b AUTHENTICATE PLAIN');
    expect(await d.readLine()).toBe('+ ');
    d.send(encodeSaslPlain('bob@example.com', 'bob-pw'));
    expect(await d.readLine()).toBe(`b OK [CAPABILITY ${POST_CAPS}] Logged in`);
  });

  it('STARTTLS (§6.2.1): pipelined plaintext after it is discarded, then login works', async () => {
    const c = await anon();
    c.write('a STARTTLS\r\nb NOOP\r\n');
    expect(await c.readLine()).toBe('a OK Begin TLS negotiation now');
    await c.startTls();
    // "b NOOP" was sent in the clear before the handshake: it must not be answered.
    await script(c, [
      ['CAPABILITY', [`* CAPABILITY ${PRE_CAPS.replace(' STARTTLS', '')}`, 'TAG OK CAPABILITY completed']],
      ['STARTTLS', ['TAG BAD TLS is already active']],
      ['LOGIN alice@example.com "alice secret"', [`TAG OK [CAPABILITY ${POST_CAPS}] Logged in`]],
    ]);
  });
});

describe('RFC 3501 §6.2.3 LOGINDISABLED when plaintext is not allowed', () => {
  it('advertises LOGINDISABLED and refuses LOGIN until STARTTLS', async () => {
    const strict = await startTestNode({ plaintextAuth: 'never' });
    try {
      const { c, greeting } = await imapConnect(strict.imapPort);
      open.push(c);
      expect(greeting).toContain(' STARTTLS LOGINDISABLED ');
      expect(greeting).not.toContain('AUTH=PLAIN');
      await script(c, [
        ['LOGIN alice@example.com "alice secret"', ['TAG NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-encrypted connections, use STARTTLS']],
        [`AUTHENTICATE PLAIN ${encodeSaslPlain('alice@example.com', 'alice secret')}`, ['TAG NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-encrypted connections, use STARTTLS']],
        ['STARTTLS', ['TAG OK Begin TLS negotiation now']],
      ]);
      await c.startTls();
      await script(c, [['LOGIN alice@example.com "alice secret"', [`TAG OK [CAPABILITY ${POST_CAPS}] Logged in`]]]);
    } finally {
      await strict.dispose();
    }
  });
});

describe('RFC 3501 §6.3 authenticated state', () => {
  it('SELECT / EXAMINE (§6.3.1, §6.3.2)', async () => {
    const c = await login();
    await script(c, [
      [
        'SELECT INBOX',
        [
          '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)',
          '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted',
          '* 0 EXISTS',
          '* 0 RECENT',
          '* OK [UIDVALIDITY <v>] UIDs valid',
          '* OK [UIDNEXT 1] Predicted next UID',
          '* OK [MAILBOXID <id>] Ok',
          '* OK [HIGHESTMODSEQ 1] Highest',
          'TAG OK [READ-WRITE] SELECT completed',
        ],
      ],
      [
        'EXAMINE inbox',
        [
          '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)',
          '* OK [PERMANENTFLAGS ()] Read-only mailbox',
          '* 0 EXISTS',
          '* 0 RECENT',
          '* OK [UIDVALIDITY <v>] UIDs valid',
          '* OK [UIDNEXT 1] Predicted next UID',
          '* OK [MAILBOXID <id>] Ok',
          '* OK [HIGHESTMODSEQ 1] Highest',
          'TAG OK [READ-ONLY] EXAMINE completed',
        ],
      ],
      // A failed SELECT leaves no mailbox selected (§6.3.1).
      ['SELECT nosuch', [expect.stringMatching(/^TAG NO \[NONEXISTENT\] /) as unknown as string]],
      ['CHECK', ['TAG BAD CHECK not allowed now: no mailbox selected']],
      ['SELECT', ['TAG BAD SELECT: Needs a mailbox name and optional parameters']],
      ['SELECT INBOX (FOO)', ['TAG BAD SELECT: Unsupported SELECT parameter']],
    ]);
  });

  it('CREATE / DELETE / RENAME / SUBSCRIBE / LIST / LSUB (§6.3.3–§6.3.9)', async () => {
    const c = await login(BOB);
    await script(c, [
      ['CREATE Projects/2024/', ['TAG OK [MAILBOXID <id>] CREATE completed']],
      ['CREATE Projects', [expect.stringMatching(/^TAG NO \[ALREADYEXISTS\] /) as unknown as string]],
      ['CREATE INBOX', ['TAG NO [ALREADYEXISTS] INBOX always exists']],
      ['CREATE "K&AOQ-se"', ['TAG OK [MAILBOXID <id>] CREATE completed']],
      ['CREATE "bad&name"', ['TAG NO [CANNOT] CREATE: Mailbox name is not valid modified UTF-7']],
      [
        'LIST "" "*"',
        [
          '* LIST (\\HasNoChildren) "/" "INBOX"',
          '* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
          '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
          '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
          '* LIST (\\HasNoChildren) "/" "K&AOQ-se"',
          '* LIST (\\HasChildren) "/" "Projects"',
          '* LIST (\\HasNoChildren) "/" "Projects/2024"',
          '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
          '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
          'TAG OK LIST completed',
        ],
      ],
      ['LIST "" "%"', expect.arrayContaining(['* LIST (\\HasChildren) "/" "Projects"']) as unknown as string[]],
      ['LIST "Projects/" "%"', ['* LIST (\\HasNoChildren) "/" "Projects/2024"', 'TAG OK LIST completed']],
      ['LIST "" ""', ['* LIST (\\Noselect) "/" ""', 'TAG OK LIST completed']],
      ['LIST "" "inbox"', ['* LIST (\\HasNoChildren) "/" "INBOX"', 'TAG OK LIST completed']],
      ['RENAME Projects Work', ['TAG OK RENAME completed']],
      ['LIST "" "Work*"', ['* LIST (\\HasChildren) "/" "Work"', '* LIST (\\HasNoChildren) "/" "Work/2024"', 'TAG OK LIST completed']],
      ['RENAME Nothing Else', [expect.stringMatching(/^TAG NO \[NONEXISTENT\] /) as unknown as string]],
      ['RENAME Work INBOX', ['TAG NO [ALREADYEXISTS] INBOX already exists']],
      ['SUBSCRIBE Work/2024', ['TAG OK SUBSCRIBE completed']],
      ['LSUB "" "*"', expect.arrayContaining(['* LSUB () "/" "Work/2024"', 'TAG OK LSUB completed']) as unknown as string[]],
      ['LIST (SUBSCRIBED) "" "Work*"', ['* LIST (\\HasNoChildren \\Subscribed) "/" "Work/2024"', 'TAG OK LIST completed']],
      ['UNSUBSCRIBE Work/2024', ['TAG OK UNSUBSCRIBE completed']],
      ['LSUB "" "Work*"', ['TAG OK LSUB completed']],
      ['DELETE Work/2024', ['TAG OK DELETE completed']],
      ['DELETE INBOX', ['TAG NO [CANNOT] INBOX cannot be deleted']],
      ['DELETE Work/2024', [expect.stringMatching(/^TAG NO \[NONEXISTENT\] /) as unknown as string]],
    ]);
  });

  it('LIST RETURN (SPECIAL-USE) and (SPECIAL-USE) selection (RFC 6154 §2)', async () => {
    const c = await login(BOB);
    await script(c, [
      [
        'LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)',
        [
          '* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
          '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
          '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
          '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
          '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
          'TAG OK LIST completed',
        ],
      ],
      ['LIST "" "Sent" RETURN (SPECIAL-USE)', ['* LIST (\\HasNoChildren \\Sent) "/" "Sent"', 'TAG OK LIST completed']],
      // RFC 5819 LIST-STATUS (more in list-extended.test.ts).
      ['LIST "" "Sent" RETURN (STATUS (MESSAGES))', ['* LIST (\\HasNoChildren \\Sent) "/" "Sent"', '* STATUS "Sent" (MESSAGES 0)', 'TAG OK LIST completed']],
    ]);
  });

  it('STATUS and APPEND (§6.3.10, §6.3.11, RFC 4315 APPENDUID)', async () => {
    const c = await login(BOB);
    expect(norm(await imapAppend(c, 'a1', 'Drafts', message('draft one'), '(\\Draft $Work) "01-Feb-2024 10:00:00 +0100"'))).toEqual([
      '+ Ready for literal data',
      'a1 OK [APPENDUID <v> 1] APPEND completed',
    ]);
    expect(norm(await imapAppend(c, 'a2', 'Drafts', message('draft two')))).toEqual(['+ Ready for literal data', 'a2 OK [APPENDUID <v> 2] APPEND completed']);
    expect(await imapAppend(c, 'a3', 'NoSuchBox', message('x'))).toEqual([
      '+ Ready for literal data',
      expect.stringMatching(/^a3 NO \[TRYCREATE\] /),
    ]);
    expect(await imapAppend(c, 'a4', 'Drafts', message('x'), '(\\Recent)')).toEqual(['+ Ready for literal data', 'a4 BAD APPEND: Invalid flag \\Recent']);
    await script(c, [
      // Both appends are recent until a session SELECTs Drafts (RFC 3501 §2.3.2; EXAMINE below does not claim them).
      ['STATUS Drafts (MESSAGES RECENT UIDNEXT UNSEEN)', ['* STATUS "Drafts" (MESSAGES 2 RECENT 2 UIDNEXT 3 UNSEEN 2)', 'TAG OK STATUS completed']],
      ['STATUS Drafts (UIDVALIDITY)', ['* STATUS "Drafts" (UIDVALIDITY <v>)', 'TAG OK STATUS completed']],
      ['STATUS Drafts (BOGUS)', ['TAG BAD STATUS: Unknown STATUS item']],
      ['STATUS Nope (MESSAGES)', [expect.stringMatching(/^TAG NO \[NONEXISTENT\] /) as unknown as string]],
      ['APPEND Drafts "not a literal"', ['TAG BAD APPEND: The message must be a literal']],
      // EXAMINE reports them as recent without claiming them (§6.3.2).
      ['EXAMINE Drafts', expect.arrayContaining(['* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)', '* 2 EXISTS', '* 2 RECENT', '* OK [UNSEEN 1] First unseen']) as unknown as string[]],
      ['FETCH 1 (FLAGS INTERNALDATE)', ['* 1 FETCH (FLAGS (\\Draft $Work \\Recent) INTERNALDATE <d>)', 'TAG OK FETCH completed']],
    ]);
    // The date given to APPEND is the INTERNALDATE (shown in UTC).
    expect(await c.command('x', 'FETCH 1 INTERNALDATE')).toEqual(['* 1 FETCH (INTERNALDATE "01-Feb-2024 09:00:00 +0000")', 'x OK FETCH completed']);
  });
});

describe('RFC 3501 §6.4 selected state', () => {
  it('FETCH, STORE, COPY, EXPUNGE, CLOSE and the UID variants', async () => {
    const c = await login({ address: 'carol@example.com', password: 'carol-pw' });
    for (const s of ['one', 'two', 'three']) await imapAppend(c, 'ap', 'INBOX', message(s));
    const size = Buffer.byteLength(message('one'));
    await script(c, [
      ['SELECT INBOX', expect.arrayContaining(['* 3 EXISTS', '* OK [UNSEEN 1] First unseen', 'TAG OK [READ-WRITE] SELECT completed']) as unknown as string[]],
      // The SELECT claimed the three new messages: \Recent in this session only (RFC 3501 §2.3.2, recent.test.ts).
      ['FETCH 1 (UID RFC822.SIZE FLAGS)', [`* 1 FETCH (UID 1 RFC822.SIZE ${size} FLAGS (\\Recent))`, 'TAG OK FETCH completed']],
      ['FETCH 2 BODY.PEEK[HEADER.FIELDS (Subject)]', ['* 2 FETCH (BODY[HEADER.FIELDS (Subject)] {16}', 'Subject: two', '', ')', 'TAG OK FETCH completed']],
      // Without .PEEK the \Seen flag is set and reported (§6.4.5).
      ['FETCH 2 BODY[TEXT]', ['* 2 FETCH (BODY[TEXT] {7}', 'hello', ' FLAGS (\\Seen \\Recent))', 'TAG OK FETCH completed']],
      ['FETCH 3 BODY[]<0.4>', ['* 3 FETCH (BODY[]<0> {4}', 'From FLAGS (\\Seen \\Recent))', 'TAG OK FETCH completed']],
      ['FETCH 1 ENVELOPE', ['* 1 FETCH (ENVELOPE ("Mon, 1 Jan 2024 10:00:00 +0000" "one" (("Sender" NIL "sender" "example.org")) (("Sender" NIL "sender" "example.org")) (("Sender" NIL "sender" "example.org")) ((NIL NIL "alice" "example.com")) NIL NIL NIL "<one@example.org>"))', 'TAG OK FETCH completed']],
      ['FETCH 1 BODYSTRUCTURE', ['* 1 FETCH (BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 7 1 NIL NIL NIL NIL))', 'TAG OK FETCH completed']],
      ['FETCH 1:* FAST', [
        `* 1 FETCH (FLAGS (\\Recent) INTERNALDATE <d> RFC822.SIZE ${size})`,
        `* 2 FETCH (FLAGS (\\Seen \\Recent) INTERNALDATE <d> RFC822.SIZE ${size})`,
        `* 3 FETCH (FLAGS (\\Seen \\Recent) INTERNALDATE <d> RFC822.SIZE ${Buffer.byteLength(message('three'))})`,
        'TAG OK FETCH completed',
      ]],
      ['FETCH 9 FLAGS', ['TAG OK FETCH completed']],
      ['FETCH x FLAGS', ['TAG BAD FETCH: Invalid sequence set']],
      ['FETCH 1 (FLAGS', [expect.stringMatching(/^TAG BAD /) as unknown as string]],
      ['UID FETCH 2:3 FLAGS', ['* 2 FETCH (UID 2 FLAGS (\\Seen \\Recent))', '* 3 FETCH (UID 3 FLAGS (\\Seen \\Recent))', 'TAG OK FETCH completed']],
      // A new keyword: FLAGS and PERMANENTFLAGS come first (§7.2.6).
      [
        'STORE 1 +FLAGS (\\Flagged $Important)',
        [
          '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important)',
          '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Important \\*)] Flags permitted',
          '* 1 FETCH (FLAGS (\\Flagged $Important \\Recent))',
          'TAG OK STORE completed',
        ],
      ],
      ['STORE 1 -FLAGS.SILENT ($Important)', ['TAG OK STORE completed']],
      ['STORE 1 FLAGS (\\Recent)', ['TAG BAD STORE: Invalid flag \\Recent']],
      // FLAGS replaces the stored flags; \Recent is not one of them and stays (RFC 3501 §2.3.2).
      ['UID STORE 1 FLAGS (\\Seen)', ['* 1 FETCH (FLAGS (\\Seen \\Recent) UID 1)', 'TAG OK STORE completed']],
      ['COPY 1:2 Trash', ['TAG OK [COPYUID <v> 1:2 1:2] COPY completed']],
      ['UID COPY 3 Trash', ['TAG OK [COPYUID <v> 3 3] COPY completed']],
      ['COPY 1 Nowhere', [expect.stringMatching(/^TAG NO \[TRYCREATE\] /) as unknown as string]],
      ['STORE 1:2 +FLAGS.SILENT (\\Deleted)', ['TAG OK STORE completed']],
      ['EXPUNGE', ['* 1 EXPUNGE', '* 1 EXPUNGE', 'TAG OK EXPUNGE completed']],
      ['FETCH 1:* UID', ['* 1 FETCH (UID 3)', 'TAG OK FETCH completed']],
      ['CHECK', ['TAG OK CHECK completed']],
      ['SELECT Trash', expect.arrayContaining(['* 3 EXISTS']) as unknown as string[]],
      ['STORE 1 +FLAGS.SILENT (\\Deleted)', ['TAG OK STORE completed']],
      // CLOSE expunges silently (§6.4.2).
      ['CLOSE', ['TAG OK CLOSE completed']],
      ['STATUS Trash (MESSAGES)', ['* STATUS "Trash" (MESSAGES 2)', 'TAG OK STATUS completed']],
      ['FETCH 1 FLAGS', ['TAG BAD FETCH not allowed now: no mailbox selected']],
    ]);
  });

  it('EXAMINE is read-only: STORE and EXPUNGE refused, FETCH BODY[] does not set \\Seen', async () => {
    const c = await login({ address: 'carol@example.com', password: 'carol-pw' });
    await c.command('c', 'CREATE ReadOnly');
    await imapAppend(c, 'a', 'ReadOnly', message('ro'));
    await script(c, [
      ['EXAMINE ReadOnly', expect.arrayContaining(['TAG OK [READ-ONLY] EXAMINE completed']) as unknown as string[]],
      ['STORE 1 +FLAGS (\\Seen)', ['TAG NO [READ-ONLY] Mailbox is read-only']],
      ['EXPUNGE', ['TAG NO [READ-ONLY] Mailbox is read-only']],
      ['MOVE 1 INBOX', ['TAG NO [READ-ONLY] Mailbox is read-only']],
      ['FETCH 1 (FLAGS BODY[TEXT])', ['* 1 FETCH (FLAGS (\\Recent) BODY[TEXT] {7}', 'hello', ')', 'TAG OK FETCH completed']],
      ['UNSELECT', ['TAG OK UNSELECT completed']],
    ]);
  });
});

describe('RFC 3501 §6.4.4 SEARCH', () => {
  it('flags, headers, body, sizes, dates, sets, OR/NOT, UID SEARCH, charset', async () => {
    const c = await login(BOB);
    await c.command('c', 'CREATE Search');
    await imapAppend(c, 'a', 'Search', message('alpha report', 'the quick brown fox\r\n', 'Ann <ann@example.org>'), '(\\Seen) "05-Mar-2024 10:00:00 +0000"');
    await imapAppend(c, 'a', 'Search', message('beta notes', 'lazy dog\r\n', 'Ben <ben@example.net>'), '(\\Flagged) "06-Mar-2024 10:00:00 +0000"');
    await imapAppend(c, 'a', 'Search', message('Gamma Äpfel', `${'z'.repeat(3000)}\r\n`), '() "07-Mar-2024 10:00:00 +0000"');
    await c.command('s', 'SELECT Search');
    await script(c, [
      ['SEARCH ALL', ['* SEARCH 1 2 3', 'TAG OK SEARCH completed']],
      ['SEARCH SEEN', ['* SEARCH 1', 'TAG OK SEARCH completed']],
      ['SEARCH UNSEEN FLAGGED', ['* SEARCH 2', 'TAG OK SEARCH completed']],
      ['SEARCH FROM ben', ['* SEARCH 2', 'TAG OK SEARCH completed']],
      ['SEARCH SUBJECT "REPORT"', ['* SEARCH 1', 'TAG OK SEARCH completed']],
      ['SEARCH BODY fox', ['* SEARCH 1', 'TAG OK SEARCH completed']],
      ['SEARCH TEXT dog', ['* SEARCH 2', 'TAG OK SEARCH completed']],
      ['SEARCH LARGER 2000', ['* SEARCH 3', 'TAG OK SEARCH completed']],
      ['SEARCH SINCE 6-Mar-2024', ['* SEARCH 2 3', 'TAG OK SEARCH completed']],
      ['SEARCH BEFORE 6-Mar-2024', ['* SEARCH 1', 'TAG OK SEARCH completed']],
      ['SEARCH OR SEEN FLAGGED', ['* SEARCH 1 2', 'TAG OK SEARCH completed']],
      ['SEARCH NOT SEEN', ['* SEARCH 2 3', 'TAG OK SEARCH completed']],
      ['SEARCH 2:*', ['* SEARCH 2 3', 'TAG OK SEARCH completed']],
      ['SEARCH HEADER Message-ID beta', ['* SEARCH 2', 'TAG OK SEARCH completed']],
      ['UID SEARCH UID 2:3 UNFLAGGED', ['* SEARCH 3', 'TAG OK SEARCH completed']],
      ['SEARCH CHARSET UTF-8 SUBJECT "nothing-matches"', ['* SEARCH', 'TAG OK SEARCH completed']],
      ['SEARCH CHARSET KOI8-R ALL', ['TAG NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset']],
      ['SEARCH FOO', [expect.stringMatching(/^TAG BAD /) as unknown as string]],
    ]);
    c.send('u SEARCH CHARSET UTF-8 SUBJECT {6}');
    expect(await c.readLine()).toBe('+ Ready for literal data');
    c.write(Buffer.concat([Buffer.from('\u00c4pfel', 'utf8'), Buffer.from('\r\n')]));
    expect(await c.readUntil((l) => l.startsWith('u '))).toEqual(['* SEARCH 3', 'u OK SEARCH completed']);
  });
});

describe('extensions', () => {
  it('UIDPLUS UID EXPUNGE (RFC 4315) and MOVE (RFC 6851)', async () => {
    const c = await login(BOB);
    await c.command('c', 'CREATE Moves');
    for (const s of ['m1', 'm2', 'm3']) await imapAppend(c, 'ap', 'Moves', message(s));
    await script(c, [
      ['SELECT Moves', expect.arrayContaining(['* 3 EXISTS']) as unknown as string[]],
      ['STORE 1:3 +FLAGS.SILENT (\\Deleted)', ['TAG OK STORE completed']],
      ['UID EXPUNGE 2', ['* 2 EXPUNGE', 'TAG OK EXPUNGE completed']],
      ['STORE 1:2 -FLAGS.SILENT (\\Deleted)', ['TAG OK STORE completed']],
      ['MOVE 2 Archive', ['* OK [COPYUID <v> 3 1] Moved', '* 2 EXPUNGE', 'TAG OK MOVE completed']],
      ['UID MOVE 1 Archive', ['* OK [COPYUID <v> 1 2] Moved', '* 1 EXPUNGE', 'TAG OK MOVE completed']],
      ['MOVE 1 Archive', ['TAG OK MOVE completed']],
      ['UID MOVE 1 Nowhere', [expect.stringMatching(/^TAG NO \[TRYCREATE\] /) as unknown as string]],
    ]);
  });

  it('NAMESPACE, ID, ENABLE, UNSELECT', async () => {
    const c = await login(BOB);
    await script(c, [
      ['NAMESPACE', ['* NAMESPACE (("" "/")) (("Other Users/" "/")) (("Shared/" "/"))', 'TAG OK NAMESPACE completed']],
      ['ID ("name" "test-client" "version" "1")', ['* ID ("name" "mailfleet" "version" "0.1.0")', 'TAG OK ID completed']],
      ['ID NIL', ['* ID ("name" "mailfleet" "version" "0.1.0")', 'TAG OK ID completed']],
      ['ID ("odd")', ['TAG BAD ID: ID needs NIL or a list of field/value pairs']],
      ['ENABLE CONDSTORE UNKNOWN', ['* ENABLED CONDSTORE', 'TAG OK ENABLE completed']],
      ['ENABLE CONDSTORE', ['* ENABLED', 'TAG OK ENABLE completed']],
      ['UNSELECT', ['TAG BAD UNSELECT not allowed now: no mailbox selected']],
      ['SELECT INBOX', expect.arrayContaining(['TAG OK [READ-WRITE] SELECT completed']) as unknown as string[]],
      ['ENABLE CONDSTORE', ['TAG BAD ENABLE not allowed in this state']],
      ['UNSELECT', ['TAG OK UNSELECT completed']],
    ]);
  });

  it('CONDSTORE (RFC 7162): MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE / MODIFIED', async () => {
    const c = await login(BOB);
    await c.command('c', 'CREATE Cond');
    for (const s of ['c1', 'c2']) await imapAppend(c, 'ap', 'Cond', message(s));
    const sel = await c.command('s', 'SELECT Cond (CONDSTORE)');
    const hms = Number(/HIGHESTMODSEQ (\d+)/.exec(sel.join('\n'))?.[1]);
    expect(hms).toBeGreaterThan(0);
    const f = await c.command('f', 'FETCH 1:2 (MODSEQ)');
    const m1 = Number(/^\* 1 FETCH \(MODSEQ \((\d+)\)\)$/.exec(f[0])?.[1]);
    expect(m1).toBeGreaterThan(0);
    const st = await c.command('g', `STORE 1 (UNCHANGEDSINCE ${hms}) +FLAGS (\\Seen)`);
    // Both messages are \Recent in this session (its SELECT claimed them, RFC 3501 §2.3.2).
    const m1b = Number(/^\* 1 FETCH \(FLAGS \(\\Seen \\Recent\) MODSEQ \((\d+)\)\)$/.exec(st[0])?.[1]);
    expect(m1b).toBeGreaterThan(hms);
    expect(st[1]).toBe('g OK STORE completed');
    // Message 1 changed after `hms`: a conditional store with the old value must fail for it.
    expect(await c.command('h', `STORE 1:2 (UNCHANGEDSINCE ${hms}) +FLAGS (\\Flagged)`)).toEqual([
      expect.stringMatching(/^\* 2 FETCH \(FLAGS \(\\Flagged \\Recent\) MODSEQ \(\d+\)\)$/),
      'h OK [MODIFIED 1] Conditional STORE failed for some messages',
    ]);
    const changed = await c.command('i', `FETCH 1:* (FLAGS) (CHANGEDSINCE ${m1b})`);
    expect(changed).toEqual([expect.stringMatching(/^\* 2 FETCH \(FLAGS \(\\Flagged \\Recent\) MODSEQ \(\d+\)\)$/), 'i OK FETCH completed']);
  });

  it('QUOTA (RFC 9208)', async () => {
    const q = await startTestNode({ users: [{ address: 'q@example.com', password: 'qq', quota: { bytes: 10 * 1024, messages: 3 } }] });
    try {
      const c = await imapLogin(q.imapPort, 'q@example.com', 'qq');
      open.push(c);
      await imapAppend(c, 'a', 'INBOX', message('q1', 'x'.repeat(2000)));
      await script(c, [
        ['GETQUOTAROOT INBOX', ['* QUOTAROOT "INBOX" ""', expect.stringMatching(/^\* QUOTA "" \(STORAGE 3 10 MESSAGE 1 3\)$/) as unknown as string, 'TAG OK GETQUOTAROOT completed']],
        ['GETQUOTA ""', [expect.stringMatching(/^\* QUOTA "" \(STORAGE \d+ 10 MESSAGE 1 3\)$/) as unknown as string, 'TAG OK GETQUOTA completed']],
        ['GETQUOTA "other"', ['TAG NO [NONEXISTENT] No such quota root']],
        ['SETQUOTA "" (STORAGE 100)', ['TAG NO [NOPERM] Quota is set by the administrator']],
      ]);
      expect(await imapAppend(c, 'b', 'INBOX', message('q2', 'y'.repeat(9000)))).toEqual(['+ Ready for literal data', 'b NO [OVERQUOTA] Quota exceeded']);
    } finally {
      await q.dispose();
    }
  });
});
