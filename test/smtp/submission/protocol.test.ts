import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSaslPlain } from '../../../mail-runtime/auth';
import { JUNK_HINT } from '../../../mail-runtime/smtp/common';
import { LineClient } from '../../helpers/line-client';
import {
  ANN,
  BEN,
  CAL,
  MemoryQueue,
  imapMessages,
  mail,
  play,
  sizedMail,
  smtp,
  smtpConnect,
  smtpReply,
  startSmtpTestNode,
  waitForNoSessions,
  type SmtpTestNode,
  type Step,
} from '../../helpers/smtp';
import { expected } from '../../helpers/smtp-table';

/**
 * Submission (RFC 6409) on the node over raw sockets, exact replies,
 * grouped by the RFC section that decides them.
 */
const plain = (user: string, pass: string, authzid = '') => `AUTH PLAIN ${encodeSaslPlain(user, pass, authzid)}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const EHLO: Step = { send: 'EHLO client.test', expect: /^250-mx\.test / };
const AUTH_ANN: Step = { send: plain(ANN.address, ANN.password), expect: '235 2.7.0 Authentication successful' };

let node: SmtpTestNode;
beforeAll(async () => {
  // Default plaintextAuth (loopback): the tests' loopback client may log in without TLS.
  node = await startSmtpTestNode();
});
afterAll(() => node.dispose());

async function table(port: number, steps: Step[], opts: { tls?: boolean } = {}): Promise<LineClient> {
  const { c, greeting } = await smtpConnect(port, opts);
  try {
    expect(greeting).toBe('220 mx.test ESMTP mailfleet');
    expect(await play(c, steps)).toEqual(expected(steps));
  } catch (err) {
    // A failed row must not leave a session open for the next test to trip over.
    c.close();
    throw err;
  }
  return c;
}

describe('RFC 4954 / RFC 6409 §4.3: authentication is required', () => {
  it('advertises AUTH and STARTTLS; MAIL, RCPT and DATA before AUTH get 530 5.7.0', async () => {
    const c = await table(node.submissionPort, [
      { send: 'MAIL FROM:<ann@example.com>', expect: '503 5.5.1 Error: send HELO/EHLO first' },
      {
        send: 'EHLO client.test',
        expect: ['250-mx.test Nice to meet you, [127.0.0.1]', '250-PIPELINING', '250-8BITMIME', '250-SMTPUTF8', '250-ENHANCEDSTATUSCODES', '250-AUTH PLAIN LOGIN', '250-STARTTLS', '250 SIZE 52428800'].join('\n'),
      },
      { send: 'MAIL FROM:<ann@example.com>', expect: '530 5.7.0 Authentication required' },
      { send: 'RCPT TO:<ben@example.com>', expect: '530 5.7.0 Authentication required' },
      { send: 'DATA', expect: '530 5.7.0 Authentication required' },
      { send: 'AUTH CRAM-MD5', expect: '504 5.5.4 Error: Unrecognized authentication type' },
      { send: plain(ANN.address, 'wrong'), expect: '535 5.7.8 Authentication credentials invalid' },
      // RFC 4616 §2: no proxy logins.
      { send: plain(ANN.address, ANN.password, BEN.address), expect: '535 5.7.8 Authentication credentials invalid' },
      { send: 'AUTH LOGIN', expect: '334 VXNlcm5hbWU6' },
      { send: b64(ANN.address), expect: '334 UGFzc3dvcmQ6' },
      { send: b64(ANN.password), expect: '235 2.7.0 Authentication successful' },
      { send: plain(BEN.address, BEN.password), expect: '503 5.5.1 Error: No identity changes permitted' },
      { send: 'MAIL FROM:<ann@example.com>', expect: '250 2.1.0 Accepted' },
    ]);
    c.close();
  });

  it('hangs up after three failed logins on one connection', async () => {
    const c = await table(node.submissionPort, [
      EHLO,
      { send: plain(BEN.address, 'nope-1'), expect: '535 5.7.8 Authentication credentials invalid' },
      { send: plain(BEN.address, 'nope-2'), expect: '535 5.7.8 Authentication credentials invalid' },
      { send: plain(BEN.address, 'nope-3'), expect: '535 5.7.8 Authentication credentials invalid' },
    ]);
    expect((await smtpReply(c)).join('\n')).toBe('421 4.7.0 Too many failed logins, closing connection');
    await c.waitClosed();
  });
});

describe('bounded work before login', () => {
  let quick: SmtpTestNode;
  beforeAll(async () => {
    quick = await startSmtpTestNode({ limits: { loginTimeoutSeconds: 2 } });
  });
  afterAll(() => quick.dispose());

  it('a connection that has not logged in by the deadline is told 421 4.7.0 and closed', async () => {
    const { c, greeting } = await smtpConnect(quick.submissionPort);
    expect(greeting).toBe('220 mx.test ESMTP mailfleet');
    expect((await smtpReply(c)).join('\n')).toBe('421 4.7.0 Authentication timeout, closing connection');
    await c.waitClosed();
  });

  it('unauthenticated commands are bounded too: the tenth goes with 421', async () => {
    const { c } = await smtpConnect(node.submissionPort);
    const replies: string[] = [];
    for (let i = 0; i < 10; i++) replies.push(await smtp(c, 'NOOP'));
    expect(replies.slice(0, 9).every((r) => r === '250 2.0.0 OK')).toBe(true);
    expect(replies[9]).toBe('421 4.4.2 Error: too many unauthenticated commands');
    await c.waitClosed();
  });
});

describe('RFC 4954 §4 / RFC 3207: plaintext AUTH only where plaintextAuth allows', () => {
  let strict: SmtpTestNode;
  beforeAll(async () => {
    strict = await startSmtpTestNode({ plaintextAuth: 'never' });
  });
  afterAll(() => strict.dispose());

  it('refuses PLAIN and LOGIN before STARTTLS with 538 5.7.11, accepts them after', async () => {
    const c = await table(strict.submissionPort, [
      EHLO,
      { send: plain(ANN.address, ANN.password), expect: '538 5.7.11 Encryption required for requested authentication mechanism, use STARTTLS' },
      { send: 'AUTH LOGIN', expect: '538 5.7.11 Encryption required for requested authentication mechanism, use STARTTLS' },
      { send: 'MAIL FROM:<ann@example.com>', expect: '530 5.7.0 Authentication required' },
    ]);
    // RFC 3207 §4.2 / CVE-2011-0411: a command pipelined behind STARTTLS must not run inside TLS.
    c.write('STARTTLS\r\nNOOP\r\n');
    expect((await smtpReply(c)).join('\n')).toBe('220 2.0.0 Ready to start TLS');
    await c.startTls();
    const steps: Step[] = [
      { send: 'EHLO client.test', expect: /^250-mx\.test [^]*250-AUTH PLAIN LOGIN\n250 SIZE 52428800$/ },
      { send: 'STARTTLS', expect: '503 5.5.1 Error: TLS already active' },
      AUTH_ANN,
      { send: 'MAIL FROM:<ann@example.com>', expect: '250 2.1.0 Accepted' },
    ];
    expect(await play(c, steps)).toEqual(expected(steps));
    c.close();
  });

  it('RFC 8314 §3.3: port 465 speaks TLS from the first byte; AUTH needs no STARTTLS there', async () => {
    const c = await table(
      strict.smtpsPort,
      [
        { send: 'EHLO client.test', expect: /^250-mx\.test [^]*250-AUTH PLAIN LOGIN\n250 SIZE 52428800$/ },
        { send: 'STARTTLS', expect: '503 5.5.1 Error: TLS already active' },
        AUTH_ANN,
        { send: 'MAIL FROM:<ann@example.com>', expect: '250 2.1.0 Accepted' },
      ],
      { tls: true },
    );
    c.close();
  });
});

describe('RFC 6409 §6.1: the envelope sender must be the user’s', () => {
  it('553 5.7.1 for another user’s address, an outside one and the null sender; an alias is fine', async () => {
    const c = await table(node.submissionPort, [
      EHLO,
      AUTH_ANN,
      { send: 'MAIL FROM:<ben@example.com>', expect: '553 5.7.1 Sender address <ben@example.com> is not owned by user ann@example.com' },
      { send: 'MAIL FROM:<ceo@bank.example>', expect: '553 5.7.1 Sender address <ceo@bank.example> is not owned by user ann@example.com' },
      { send: 'MAIL FROM:<>', expect: '553 5.7.1 The null sender <> is not allowed on submission' },
      { send: 'MAIL FROM:<Sales@Example.com>', expect: '250 2.1.0 Accepted' },
      { send: 'RCPT TO:<ben@example.com>', expect: '250 2.1.5 Accepted' },
    ]);
    c.close();
  });
});

describe('RFC 6409 §6.3: the From: field must be the user’s too', () => {
  const attempt = (message: string, reply: string): Step[] => [
    { send: 'MAIL FROM:<ann@example.com>', expect: '250 2.1.0 Accepted' },
    { send: 'RCPT TO:<ben@example.com>', expect: '250 2.1.5 Accepted' },
    { send: 'DATA', expect: /^354 / },
    { data: message, expect: [reply] },
  ];
  it('550 5.7.1 for a From: or Sender: naming someone else; 550 5.6.0 without exactly one From:', async () => {
    const c = await table(node.submissionPort, [
      EHLO,
      AUTH_ANN,
      ...attempt(mail({ from: 'Ben <ben@example.com>', subject: 'spoof' }), '550 5.7.1 From: address <ben@example.com> is not owned by user ann@example.com'),
      ...attempt(mail({ from: 'Ann <ann@example.com>, ceo@bank.example', subject: 'two' }), '550 5.7.1 From: address <ceo@bank.example> is not owned by user ann@example.com'),
      ...attempt(mail({ from: 'Ann <ann@example.com>', subject: 'sender', extra: ['Sender: ben@example.com'] }), '550 5.7.1 From: address <ben@example.com> is not owned by user ann@example.com'),
      ...attempt('To: ben@example.com\r\nSubject: no from\r\n\r\nhi\r\n', '550 5.6.0 The message needs exactly one From: header field with an address (RFC 5322 section 3.6)'),
      ...attempt(mail({ from: 'ann@example.com', subject: 'twice', extra: ['From: ann@example.com'] }), '550 5.6.0 The message needs exactly one From: header field with an address (RFC 5322 section 3.6)'),
    ]);
    c.close();
    expect(await imapMessages(node.imapPort, BEN)).toEqual([]);
  });
});

describe('RFC 6409 §8 message modifications and internal delivery', () => {
  it('adds Received, Date and Message-ID, takes the folder hint out, delivers to the hosted user’s INBOX', async () => {
    const c = await table(node.submissionPort, [
      EHLO,
      AUTH_ANN,
      { send: 'MAIL FROM:<sales@example.com>', expect: '250 2.1.0 Accepted' },
      { send: 'RCPT TO:<BEN@example.com>', expect: '250 2.1.5 Accepted' },
      { send: 'DATA', expect: /^354 / },
      { data: mail({ from: 'Sales <sales@example.com>', to: 'ben@example.com', subject: 'hello ben', messageId: '', extra: [JUNK_HINT] }), expect: ['250 2.0.0 Ok: delivered'] },
      { send: 'QUIT', expect: '221 2.0.0 Bye' },
    ]);
    c.close();
    const got = await imapMessages(node.imapPort, BEN);
    expect(got).toHaveLength(1);
    const m = got[0]!;
    expect(m).toMatch(/^Return-Path: <sales@example\.com>\r\nReceived: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.test \(mailfleet\) with ESMTPA id \S+\r\n\tfor <BEN@example\.com>;\r\n\t\w{3}, \d\d \w{3} \d{4} [\d:]{8} \+0000\r\nFrom: Sales <sales@example\.com>\r\n/);
    expect(m).toMatch(/\r\nDate: \w{3}, \d\d \w{3} \d{4} [\d:]{8} \+0000\r\nMessage-ID: <[0-9a-f]{24}@mx\.test>\r\n\r\nhello\r\n$/);
    expect(m).not.toMatch(/X-Mailfleet-Folder/i);
    expect(await imapMessages(node.imapPort, BEN, 'Junk')).toEqual([]);
    // No copy in the sender's Sent folder: the client saves its own through IMAP (issue 11).
    expect(await imapMessages(node.imapPort, ANN, 'Sent')).toEqual([]);
  });

  it('refuses outside recipients when the node has no queue (451 4.3.5); a full mailbox fails at DATA with 552 5.2.2', async () => {
    const c = await table(node.submissionPort, [
      EHLO,
      AUTH_ANN,
      { send: 'MAIL FROM:<ann@example.com>', expect: '250 2.1.0 Accepted' },
      { send: 'RCPT TO:<friend@remote.example>', expect: '451 4.3.5 Outbound queue not available on this node, try again later' },
      { send: 'RCPT TO:<cal@example.com>', expect: '250 2.1.5 Accepted' },
      { send: 'DATA', expect: /^354 / },
      { data: mail({ from: 'ann@example.com', subject: 'big', body: `${'q'.repeat(500)}\r\n` }), expect: ['552 5.2.2 Mailbox full (quota exceeded)'] },
    ]);
    c.close();
    expect(await imapMessages(node.imapPort, CAL)).toEqual([]);
  });
});

describe('the outbound queue (QueueWriter): outside recipients and hosted ones that cannot be delivered now', () => {
  let queued: SmtpTestNode;
  const queue = new MemoryQueue();
  const away = new Set<string>();
  beforeAll(async () => {
    queued = await startSmtpTestNode({ queue, owns: (a) => !away.has(a) });
  });
  afterAll(() => queued.dispose());

  it('RFC 5321 §4.5.3.1.8: takes 100 recipients (the 101st gets 452 4.5.3) and queues the outside ones in one entry', async () => {
    const rcpts: Step[] = Array.from({ length: 100 }, (_, i) => ({ send: `RCPT TO:<r${i}@remote.example>`, expect: '250 2.1.5 Accepted' }));
    const c = await table(queued.submissionPort, [
      EHLO,
      AUTH_ANN,
      { send: 'MAIL FROM:<ann@example.com>', expect: '250 2.1.0 Accepted' },
      ...rcpts,
      { send: 'RCPT TO:<r100@remote.example>', expect: '452 4.5.3 Error: too many recipients' },
      { send: 'DATA', expect: /^354 / },
      { data: mail({ from: 'ann@example.com', to: 'list@remote.example', subject: 'to many' }), expect: ['250 2.0.0 Ok: queued as q0001'] },
    ]);
    c.close();
    expect(queue.entries).toHaveLength(1);
    const { entry, message } = queue.entries[0]!;
    expect(entry).toMatchObject({ mailFrom: 'ann@example.com', origin: 'submission' });
    expect(entry.recipients).toHaveLength(100);
    expect(entry.recipients[0]).toEqual({ address: 'r0@remote.example', status: 'pending', attempts: 0 });
    const days = (Date.parse(entry.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(4.9);
    expect(days).toBeLessThanOrEqual(5);
    // Return-Path is the final delivery's to add, not ours.
    expect(message.toString()).toMatch(/^Received: from client\.test /);
  });

  it('a hosted mailbox this node does not serve goes to the queue with its reply; a queue failure is 451 4.3.0', async () => {
    away.add(BEN.address);
    try {
      const c = await table(queued.submissionPort, [
        EHLO,
        AUTH_ANN,
        { send: 'MAIL FROM:<ann@example.com>', expect: '250 2.1.0 Accepted' },
        { send: 'RCPT TO:<ben@example.com>', expect: '250 2.1.5 Accepted' },
        { send: 'RCPT TO:<ann@example.com>', expect: '250 2.1.5 Accepted' },
        { send: 'DATA', expect: /^354 / },
        { data: mail({ from: 'ann@example.com', subject: 'ben is away' }), expect: ['250 2.0.0 Ok: queued as q0002'] },
      ]);
      expect(queue.entries[1]!.entry.recipients).toEqual([
        { address: 'ben@example.com', status: 'pending', attempts: 1, lastReply: '450 4.2.0 Mailbox not served by this node, try again later' },
      ]);
      queue.failWith = new Error('ENOSPC (test)');
      const steps: Step[] = [
        { send: 'MAIL FROM:<ann@example.com>', expect: '250 2.1.0 Accepted' },
        { send: 'RCPT TO:<x@remote.example>', expect: '250 2.1.5 Accepted' },
        { send: 'DATA', expect: /^354 / },
        { data: mail({ from: 'ann@example.com', subject: 'queue full' }), expect: ['451 4.3.0 Internal error, try again later'] },
      ];
      expect(await play(c, steps)).toEqual(expected(steps));
      c.close();
    } finally {
      away.delete(BEN.address);
      queue.failWith = undefined;
    }
    // The copy for ann (this node serves her) was delivered at once.
    expect((await imapMessages(queued.imapPort, ANN)).some((m) => m.includes('Subject: ben is away'))).toBe(true);
  });
});

describe('RFC 1870 SIZE and the member’s connection limit', () => {
  let small: SmtpTestNode;
  beforeAll(async () => {
    small = await startSmtpTestNode({ limits: { maxMessageBytes: 4096, maxConnections: 2 } });
  });
  afterAll(() => small.dispose());

  it('advertises SIZE, refuses a declared size over it and a longer message with 552 5.3.4', async () => {
    const c = await table(small.submissionPort, [
      { send: 'EHLO client.test', expect: /\n250 SIZE 4096$/ },
      AUTH_ANN,
      { send: 'MAIL FROM:<ann@example.com> SIZE=4097', expect: '552 5.3.4 Error: message exceeds fixed maximum message size 4096' },
      { send: 'MAIL FROM:<ann@example.com>', expect: '250 2.1.0 Accepted' },
      { send: 'RCPT TO:<ben@example.com>', expect: '250 2.1.5 Accepted' },
      { send: 'DATA', expect: /^354 / },
      { data: sizedMail(4097, { from: 'ann@example.com', subject: 'huge' }), expect: ['552 5.3.4 Error: message exceeds fixed maximum message size 4096'] },
      // At the limit it is delivered, with Received, Date and Return-Path added on top.
      { send: 'MAIL FROM:<ann@example.com> SIZE=4096', expect: '250 2.1.0 Accepted' },
      { send: 'RCPT TO:<ben@example.com>', expect: '250 2.1.5 Accepted' },
      { send: 'DATA', expect: /^354 / },
      { data: sizedMail(4096, { from: 'ann@example.com', subject: 'at the limit' }), expect: ['250 2.0.0 Ok: delivered'] },
    ]);
    c.close();
    expect((await imapMessages(small.imapPort, BEN)).map((m) => /Subject: (.*)/.exec(m)?.[1])).toEqual(['at the limit']);
  });

  it('submission shares limits.maxConnections with IMAP: one more connection is greeted 421 4.7.0 and closed', async () => {
    await waitForNoSessions(small.healthPort);
    const imap = [await LineClient.connect(small.imapPort), await LineClient.connect(small.imapPort)];
    for (const c of imap) expect(await c.readLine()).toMatch(/^\* OK /);
    const { c, greeting } = await smtpConnect(small.submissionPort);
    expect(greeting).toBe('421 4.7.0 mx.test too many connections, try again later');
    await c.waitClosed();
    for (const i of imap) i.close();
    await waitForNoSessions(small.healthPort);
  });

  it('a session open when the node stops is told 421 4.3.2', async () => {
    const { c } = await smtpConnect(small.smtpsPort, { tls: true });
    expect(await smtp(c, 'EHLO client.test')).toMatch(/^250-/);
    const closing = small.close();
    expect((await smtpReply(c)).join('\n')).toBe('421 4.3.2 Service shutting down, try again later');
    await c.waitClosed();
    await closing;
  });
});
