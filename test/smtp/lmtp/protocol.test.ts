import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JUNK_HINT } from '../../../mail-runtime/smtp/common';
import type { LineClient } from '../../helpers/line-client';
import { ANN, BEN, CAL, imapMessages, mail, play, sizedMail, smtp, smtpConnect, smtpReply, startSmtpTestNode, type MailUser, type SmtpTestNode, type Step } from '../../helpers/smtp';
import { expected } from '../../helpers/smtp-table';

/**
 * The node's LMTP listener over raw sockets, exact replies, grouped by the
 * RFC section that decides them. The mailboxes are read back through IMAP.
 */
const DEE: MailUser = { address: 'dee@example.com', password: 'dee-pw' };
/** Its ownership check throws: the listener must answer 451 and keep serving. */
const EVE: MailUser = { address: 'eve@example.com', password: 'eve-pw' };
/** Placement answers "yours" this many more times for her, then "not yours". */
const FAY: MailUser = { address: 'fay@example.com', password: 'fay-pw' };
let fayAnswers = Infinity;

let node: SmtpTestNode;
/** Mailboxes this node does not serve right now (the placement seam). */
const away = new Set<string>(['dee@example.com']);

beforeAll(async () => {
  node = await startSmtpTestNode({
    users: [ANN, BEN, CAL, DEE, EVE, FAY],
    owns: (address) => {
      if (address === EVE.address) throw new Error('placement lookup failed (test)');
      if (address === FAY.address) return fayAnswers-- > 0;
      return !away.has(address);
    },
  });
});
afterAll(() => node.dispose());

async function lmtp(): Promise<LineClient> {
  const { c, greeting } = await smtpConnect(node.lmtpPort);
  expect(greeting).toBe('220 mx.test LMTP mailfleet');
  return c;
}

async function table(steps: Step[], c?: LineClient): Promise<void> {
  const conn = c ?? (await lmtp());
  try {
    expect(await play(conn, steps)).toEqual(expected(steps));
  } catch (err) {
    conn.close();
    throw err;
  } finally {
    if (!c) conn.close();
  }
}

const LHLO: Step = { send: 'LHLO gw.test', expect: /^250-mx\.test / };

// First in the file: no earlier connection may still be closing on the server side.
describe('metrics', () => {
  it('counts open LMTP and submission sessions like IMAP’s', async () => {
    const c = await lmtp();
    const s = await smtpConnect(node.smtpsPort, { tls: true });
    const text = await (await fetch(`http://127.0.0.1:${node.healthPort}/metrics`)).text();
    c.close();
    s.c.close();
    expect(text).toMatch(/^mailfleet_lmtp_sessions\{role="node",member="smtp-node"\} 1$/m);
    expect(text).toMatch(/^mailfleet_submission_sessions\{role="node",member="smtp-node"\} 1$/m);
  });
});

describe('RFC 2033 §4.1 LHLO', () => {
  it('greets as LMTP, refuses HELO/EHLO, wants LHLO first, offers no STARTTLS or AUTH', async () => {
    const c = await lmtp();
    await table(
      [
        { send: 'EHLO gw.test', expect: '500 Error: EHLO not allowed in LMTP server' },
        { send: 'HELO gw.test', expect: '500 Error: HELO not allowed in LMTP server' },
        { send: 'MAIL FROM:<sender@example.net>', expect: '503 5.5.1 Error: send LHLO first' },
        { send: 'LHLO gw.test', expect: ['250-mx.test Nice to meet you, [127.0.0.1]', '250-PIPELINING', '250-8BITMIME', '250-SMTPUTF8', '250-ENHANCEDSTATUSCODES', '250 SIZE 52461568'].join('\n') },
        { send: 'STARTTLS', expect: '500 5.5.2 Error: command not recognized' },
        { send: 'AUTH PLAIN AGFubkBleGFtcGxlLmNvbQBhbm4gc2VjcmV0', expect: '500 5.5.2 Error: command not recognized' },
        { send: 'XCLIENT ADDR=192.0.2.1', expect: '500 5.5.2 Error: command not recognized' },
        { send: 'NOOP', expect: '250 2.0.0 OK' },
      ],
      c,
    );
    c.close();
  });
});

describe('RFC 2033 §4.2 one reply per recipient after DATA', () => {
  it('answers each RCPT, then each accepted recipient in order; an alias and its user get one copy', async () => {
    await table([
      LHLO,
      { send: 'DATA', expect: '503 5.5.1 Error: need RCPT command' },
      { send: 'MAIL FROM:<sender@example.net>', expect: '250 2.1.0 Accepted' },
      { send: 'DATA', expect: '503 5.5.1 Error: need RCPT command' },
      { send: 'RCPT TO:<ann@example.com>', expect: '250 2.1.5 Accepted' },
      { send: 'RCPT TO:<nobody@example.com>', expect: '550 5.1.1 No such user here' },
      { send: 'RCPT TO:<Sales@Example.com>', expect: '250 2.1.5 Accepted' },
      { send: 'RCPT TO:<ben@example.com>', expect: '250 2.1.5 Accepted' },
      { send: 'DATA', expect: '354 End data with <CR><LF>.<CR><LF>' },
      {
        data: mail({ subject: 'per recipient', body: '.a line with a leading dot\r\nend\r\n' }),
        expect: ['250 2.0.0 <ann@example.com> delivered', '250 2.0.0 <Sales@Example.com> delivered', '250 2.0.0 <ben@example.com> delivered'],
      },
      { send: 'QUIT', expect: '221 2.0.0 Bye' },
    ]);
    const ann = (await imapMessages(node.imapPort, ANN)).filter((m) => m.includes('Subject: per recipient'));
    expect(ann).toHaveLength(1);
    // Final delivery writes Return-Path and our Received on top (RFC 5321 §4.4); the body arrives un-stuffed.
    expect(ann[0]).toMatch(/^Return-Path: <sender@example\.net>\r\nReceived: from gw\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.test \(mailfleet\) with LMTP id \S+;\r\n\t\w{3}, \d\d \w{3} \d{4} [\d:]{8} \+0000\r\nFrom: /);
    expect(ann[0]).toContain('\r\n\r\n.a line with a leading dot\r\nend\r\n');
    expect((await imapMessages(node.imapPort, BEN)).filter((m) => m.includes('Subject: per recipient'))).toHaveLength(1);
  });

  it('takes the null reverse path (RFC 5321 §4.5.5 bounces) and names the one recipient in Received', async () => {
    await table([
      LHLO,
      { send: 'MAIL FROM:<>', expect: '250 2.1.0 Accepted' },
      { send: 'RCPT TO:<ben@example.com>', expect: '250 2.1.5 Accepted' },
      { send: 'DATA', expect: /^354 / },
      { data: mail({ subject: 'a bounce', to: 'ben@example.com' }), expect: ['250 2.0.0 <ben@example.com> delivered'] },
    ]);
    const msg = (await imapMessages(node.imapPort, BEN)).find((m) => m.includes('Subject: a bounce'));
    expect(msg).toMatch(/^Return-Path: <>\r\nReceived: .*\r\n\tby .*\r\n\tfor <ben@example\.com>;\r\n/);
  });
});

describe('RFC 3463 X.2.2 over quota, for that recipient only', () => {
  it('552 5.2.2 for the full mailbox, 250 for the others in the same transaction', async () => {
    await table([
      LHLO,
      { send: 'MAIL FROM:<sender@example.net>', expect: '250 2.1.0 Accepted' },
      { send: 'RCPT TO:<cal@example.com>', expect: '250 2.1.5 Accepted' },
      { send: 'RCPT TO:<ann@example.com>', expect: '250 2.1.5 Accepted' },
      { send: 'DATA', expect: /^354 / },
      { data: mail({ subject: 'quota', body: `${'x'.repeat(400)}\r\n` }), expect: ['552 5.2.2 Mailbox full (quota exceeded)', '250 2.0.0 <ann@example.com> delivered'] },
    ]);
    expect(await imapMessages(node.imapPort, CAL)).toEqual([]);
    expect((await imapMessages(node.imapPort, ANN)).some((m) => m.includes('Subject: quota'))).toBe(true);
  });
});

describe('ownership (DESIGN.md: one node per mailbox): 450 4.2.0 so the sender retries at the owner', () => {
  it('refuses at RCPT a mailbox another node serves', async () => {
    await table([
      LHLO,
      { send: 'MAIL FROM:<sender@example.net>', expect: '250 2.1.0 Accepted' },
      { send: 'RCPT TO:<dee@example.com>', expect: '450 4.2.0 Mailbox not served by this node, try again later' },
      { send: 'RCPT TO:<ghost@example.com>', expect: '550 5.1.1 No such user here' },
    ]);
  });

  it('asks again at delivery: a mailbox that moved after RCPT gets 450, the others are delivered', async () => {
    const c = await lmtp();
    await table(
      [
        LHLO,
        { send: 'MAIL FROM:<sender@example.net>', expect: '250 2.1.0 Accepted' },
        { send: 'RCPT TO:<ben@example.com>', expect: '250 2.1.5 Accepted' },
        { send: 'RCPT TO:<ann@example.com>', expect: '250 2.1.5 Accepted' },
        { send: 'DATA', expect: /^354 / },
      ],
      c,
    );
    away.add(BEN.address);
    try {
      await table([{ data: mail({ subject: 'moved away' }), expect: ['450 4.2.0 Mailbox not served by this node, try again later', '250 2.0.0 <ann@example.com> delivered'] }], c);
    } finally {
      away.delete(BEN.address);
      c.close();
    }
    expect((await imapMessages(node.imapPort, BEN)).some((m) => m.includes('Subject: moved away'))).toBe(false);
  });
});

describe('ownership lost during the write (DESIGN.md: re-check after the durable write, before the ack)', () => {
  it('the lease check after the fsync says no: 450 4.2.0, never 250', async () => {
    const deliver = (subject: string, reply: string) =>
      table([
        LHLO,
        { send: 'MAIL FROM:<sender@example.net>', expect: '250 2.1.0 Accepted' },
        { send: 'RCPT TO:<fay@example.com>', expect: '250 2.1.5 Accepted' },
        { send: 'DATA', expect: /^354 / },
        { data: mail({ subject, to: FAY.address }), expect: [reply] },
      ]);
    await deliver('while owned', '250 2.0.0 <fay@example.com> delivered');
    // Her mailbox is open now; asked at RCPT and before the write: yes; asked by the store after its fsync: no.
    fayAnswers = 2;
    try {
      await deliver('lost meanwhile', '450 4.2.0 Mailbox not served by this node, try again later');
    } finally {
      fayAnswers = Infinity;
    }
  });
});

describe('internal errors: 451 4.3.0 and the session goes on', () => {
  it('an ownership check that throws is a temporary failure for that recipient', async () => {
    await table([
      LHLO,
      { send: 'MAIL FROM:<sender@example.net>', expect: '250 2.1.0 Accepted' },
      { send: 'RCPT TO:<eve@example.com>', expect: '451 4.3.0 Internal error, try again later' },
      { send: 'RCPT TO:<ann@example.com>', expect: '250 2.1.5 Accepted' },
      { send: 'RSET', expect: '250 2.0.0 Flushed' },
      { send: 'NOOP', expect: '250 2.0.0 OK' },
    ]);
  });
});

describe('RFC 5321 §4.5.3.1.4 command line bound', () => {
  it('a line over the bound ends the session with 421', async () => {
    const c = await lmtp();
    c.send(`NOOP ${'x'.repeat(5000)}`);
    expect((await smtpReply(c)).join('\n')).toBe('421 4.4.2 Error: Command line too long');
    await c.waitClosed();
  });
});

describe('RFC 6154 \\Junk: the gateway’s folder hint', () => {
  it('delivers to Junk and removes the hint; recreates Junk (with \\Junk) when the user deleted it', async () => {
    const junkMail = (subject: string) => mail({ subject, extra: [JUNK_HINT, 'X-Spam-Score: 9.1'] });
    const send = (subject: string) =>
      table([
        LHLO,
        { send: 'MAIL FROM:<sender@example.net>', expect: '250 2.1.0 Accepted' },
        { send: 'RCPT TO:<ann@example.com>', expect: '250 2.1.5 Accepted' },
        { send: 'DATA', expect: /^354 / },
        { data: junkMail(subject), expect: ['250 2.0.0 <ann@example.com> delivered'] },
      ]);
    await send('spam one');
    const junk = await imapMessages(node.imapPort, ANN, 'Junk');
    expect(junk).toHaveLength(1);
    expect(junk[0]).toContain('Subject: spam one');
    expect(junk[0]).toContain('X-Spam-Score: 9.1');
    expect(junk[0]).not.toMatch(/X-Mailfleet-Folder/i);
    expect((await imapMessages(node.imapPort, ANN)).some((m) => m.includes('spam one'))).toBe(false);

    const flow = new ImapFlow({ host: '127.0.0.1', port: node.imapPort, secure: false, auth: { user: ANN.address, pass: ANN.password }, logger: false, tls: { rejectUnauthorized: false } });
    await flow.connect();
    await flow.mailboxDelete('Junk');
    await flow.logout();
    await send('spam two');
    const again = new ImapFlow({ host: '127.0.0.1', port: node.imapPort, secure: false, auth: { user: ANN.address, pass: ANN.password }, logger: false, tls: { rejectUnauthorized: false } });
    await again.connect();
    const list = await again.list();
    await again.logout();
    expect(list.find((f) => f.path === 'Junk')?.specialUse).toBe('\\Junk');
    const recreated = await imapMessages(node.imapPort, ANN, 'Junk');
    expect(recreated.map((m) => /Subject: (.*)/.exec(m)?.[1])).toEqual(['spam two']);
  });
});

describe('RFC 1870 SIZE and RFC 5321 §3.8 stop', () => {
  let small: SmtpTestNode;
  beforeAll(async () => {
    small = await startSmtpTestNode({ limits: { maxMessageBytes: 4096 } });
  });
  afterAll(() => small.dispose());

  it('takes the client limit plus one hop’s header fields (SMTP_LIMITS.hopHeaderBytes); beyond, 552 5.3.4 per recipient', async () => {
    const { c } = await smtpConnect(small.lmtpPort);
    const steps: Step[] = [
      { send: 'LHLO gw.test', expect: /\n250 SIZE 36864$/ },
      { send: 'MAIL FROM:<sender@example.net> SIZE=36865', expect: '552 5.3.4 Error: message exceeds fixed maximum message size 36864' },
      { send: 'MAIL FROM:<sender@example.net> SIZE=4000', expect: '250 2.1.0 Accepted' },
      { send: 'RCPT TO:<ann@example.com>', expect: '250 2.1.5 Accepted' },
      { send: 'RCPT TO:<ben@example.com>', expect: '250 2.1.5 Accepted' },
      { send: 'DATA', expect: /^354 / },
      {
        data: sizedMail(36865, { subject: 'too big' }),
        expect: ['552 5.3.4 Error: message exceeds fixed maximum message size 36864', '552 5.3.4 Error: message exceeds fixed maximum message size 36864'],
      },
      // A message the gateway accepted at the client limit, with its own header fields added: it fits, with ours too.
      { send: 'MAIL FROM:<sender@example.net>', expect: '250 2.1.0 Accepted' },
      { send: 'RCPT TO:<ann@example.com>', expect: '250 2.1.5 Accepted' },
      { send: 'DATA', expect: /^354 / },
      { data: sizedMail(4096 + 2000, { subject: 'at the limit', extra: [`X-Gateway-Scores: ${'s'.repeat(1500)}`] }), expect: ['250 2.0.0 <ann@example.com> delivered'] },
    ];
    expect(await play(c, steps)).toEqual(expected(steps));
    c.close();
    expect((await imapMessages(small.imapPort, ANN)).map((m) => /Subject: (.*)/.exec(m)?.[1])).toEqual(['at the limit']);
  });

  it('a session open when the node stops is told 421 4.3.2', async () => {
    const { c } = await smtpConnect(small.lmtpPort);
    expect(await smtp(c, 'LHLO gw.test')).toMatch(/^250-/);
    const closing = small.close();
    expect((await smtpReply(c)).join('\n')).toBe('421 4.3.2 Service shutting down, try again later');
    await c.waitClosed();
    await closing;
  });
});
