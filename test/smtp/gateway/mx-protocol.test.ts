import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFolder } from '../../../mail-runtime/smtp/queue';
import { startTestGateway, type TestGateway } from '../../helpers/gateway';
import { startLmtpSink, type LmtpSink } from '../../helpers/lmtp-sink';
import { command, data, message, openSession, readReply } from '../../helpers/smtp-raw';
import { LineClient } from '../../helpers/line-client';

/**
 * The inbound MX over raw sockets: exact reply codes, grouped by the RFC
 * section that decides them (smtp-server's test/protocol-test.js style).
 * Behind the gateway an LMTP sink stands in for the node.
 */

const MAX_BYTES = 4096;
let sink: LmtpSink;
let gw: TestGateway;

beforeAll(async () => {
  sink = await startLmtpSink();
  gw = await startTestGateway({ lmtpPort: sink.port, config: { limits: { maxMessageBytes: MAX_BYTES } } });
});
afterAll(async () => {
  await gw?.dispose();
  await sink?.stop();
});

/** A session with MAIL FROM already accepted. */
async function transaction(from = 'bench-sender@example.net') {
  const s = await openSession(gw.smtpPort);
  const mail = await command(s.c, `MAIL FROM:<${from}>`);
  expect(mail.line).toMatch(/^250 2\.1\.0 /);
  return s.c;
}

describe('RFC 5321 §4.1.1.1 greeting and EHLO; RFC 1870 SIZE; RFC 2034 enhanced codes', () => {
  it('greets with 220, advertises SIZE, ENHANCEDSTATUSCODES, STARTTLS, PIPELINING, 8BITMIME and no AUTH', async () => {
    const { c, greeting, ehlo } = await openSession(gw.smtpPort);
    expect(greeting.line).toMatch(/^220 mx\.test ESMTP/);
    const caps = ehlo.lines.map((l) => l.slice(4));
    expect(caps).toContain(`SIZE ${MAX_BYTES}`);
    expect(caps).toEqual(expect.arrayContaining(['ENHANCEDSTATUSCODES', 'STARTTLS', 'PIPELINING', '8BITMIME']));
    expect(caps.some((l) => l.startsWith('AUTH'))).toBe(false);
    c.close();
  });

  it('a client that talks before the greeting is cut off (pre-greeting)', async () => {
    const c = await LineClient.connect(gw.smtpPort);
    c.send('EHLO too.early');
    const r = await readReply(c);
    expect(r.line).toMatch(/^421 .*talk too soon/i);
    await c.waitClosed();
  });
});

describe('RFC 5321 §3.6, §3.9: recipients of hosted domains, no open relay', () => {
  it.each([
    ['a hosted user', 'alice@example.com', /^250 2\.1\.5 /],
    ['an alias of a hosted user', 'ali@example.com', /^250 2\.1\.5 /],
    ['a hosted user in another case', 'Alice@EXAMPLE.com', /^250 2\.1\.5 /],
    ['an unknown user of a hosted domain', 'nobody@example.com', /^550 5\.1\.1 <nobody@example\.com>: recipient address rejected: user unknown$/],
    ['the percent hack', 'alice%other.org@example.com', /^550 5\.1\.1 /],
    ['a non-hosted domain (relay)', 'someone@elsewhere.org', /^550 5\.7\.1 <someone@elsewhere\.org>: relay access denied$/],
    ['a hosted domain as a subdomain of a foreign one', 'alice@example.com.evil.org', /^550 5\.7\.1 /],
    ['a hosted domain with a trailing dot (not an address, RFC 5321 §4.1.2)', 'alice@example.com.', /^501 5\.1\.3 /],
  ])('RCPT TO %s → %s', async (_what, rcpt, expected) => {
    const c = await transaction();
    expect((await command(c, `RCPT TO:<${rcpt}>`)).line).toMatch(expected);
    c.close();
  });

  it('an empty reverse path (bounces, RFC 5321 §4.5.5) is accepted for hosted users', async () => {
    const { c } = await openSession(gw.smtpPort);
    expect((await command(c, 'MAIL FROM:<>')).code).toBe(250);
    expect((await command(c, 'RCPT TO:<bob@example.com>')).code).toBe(250);
    c.close();
  });

  it('RFC 5321 §4.5.3.1.8/§4.5.3.1.10: 100 recipients are taken, the 101st gets 452 4.5.3', async () => {
    // Distinct recipients need a relay client (there are three hosted addresses): loopback may relay here.
    const relay = await startTestGateway({ lmtpPort: sink.port, config: { relayNetworks: ['127.0.0.0/8'] } });
    try {
      const { c } = await openSession(relay.smtpPort);
      await command(c, 'MAIL FROM:<bench-sender@example.net>');
      for (let i = 1; i <= 100; i++) expect((await command(c, `RCPT TO:<r${i}@elsewhere.org>`)).code).toBe(250);
      expect((await command(c, 'RCPT TO:<r101@elsewhere.org>')).line).toMatch(/^452 4\.5\.3 /);
      // A repeated recipient is not a new one (RFC 5321 §4.5.3.1.8 counts recipients, not commands).
      expect((await command(c, 'RCPT TO:<r1@elsewhere.org>')).code).toBe(250);
      c.close();
    } finally {
      await relay.dispose();
    }
  });

  it('a client in relayNetworks may relay: the message is handed to the outbound transport', async () => {
    const handed: { recipients: readonly string[]; from: string }[] = [];
    const relay = await startTestGateway({
      lmtpPort: sink.port,
      config: { relayNetworks: ['127.0.0.0/8'] },
      over: {
        outbound: {
          deliver: async (entry, recipients) => {
            handed.push({ recipients, from: entry.mailFrom });
            return recipients.map(() => ({ status: 'delivered' as const, reply: '250 2.0.0 ok' }));
          },
        },
      },
    });
    try {
      const { c } = await openSession(relay.smtpPort);
      await command(c, 'MAIL FROM:<app@example.com>');
      expect((await command(c, 'RCPT TO:<Someone@Elsewhere.org>')).code).toBe(250);
      expect((await data(c, message('relayed'))).done.code).toBe(250);
      await relay.runner.idle();
      // The remote local-part keeps its case (RFC 5321 §2.4).
      expect(handed).toEqual([{ recipients: ['Someone@Elsewhere.org'], from: 'app@example.com' }]);
      c.close();
    } finally {
      await relay.dispose();
    }
  });

  it('MAIL FROM with SIZE above the limit: 552 5.3.4 (RFC 1870 §6)', async () => {
    const { c } = await openSession(gw.smtpPort);
    expect((await command(c, `MAIL FROM:<x@example.net> SIZE=${MAX_BYTES + 1}`)).line).toMatch(/^552 5\.3\.4 /);
    expect((await command(c, `MAIL FROM:<x@example.net> SIZE=${MAX_BYTES}`)).code).toBe(250);
    c.close();
  });
});

describe('RFC 5321 §4.1.1.4 DATA: size, acknowledgement, Received', () => {
  it('accepts a message with 250 2.6.0 only once it is in the queue, and prepends a Received field (§4.4)', async () => {
    const c = await transaction();
    await command(c, 'RCPT TO:<alice@example.com>');
    const before = sink.deliveries.length;
    const { go, done } = await data(c, message('ack-1'));
    expect(go.code).toBe(354);
    const m = /^250 2\.6\.0 Ok: queued as ([0-9a-z]{19})$/.exec(done.line);
    expect(m, done.line).not.toBeNull();
    const id = m![1]!;
    // The 250 came after the queue had it: a fresh reader of the folder finds it, or it was already delivered.
    expect((await loadFolder(gw.queue.paths)).entries.has(id) || sink.deliveries.length > before).toBe(true);
    await sink.waitFor(before + 1);
    const got = sink.deliveries.find((d) => d.messageId === '<ack-1@example.net>')!;
    const text = got.message.toString('latin1');
    expect(text).toMatch(new RegExp(`^Received: from client\\.example\\.net \\((?:\\S+ )?\\[127\\.0\\.0\\.1\\]\\)\\r\\n\\tby mx\\.test \\(mailfleet\\) with ESMTP id ${id}\\r\\n\\tfor <alice@example\\.com>; \\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d \\+0000\\r\\nFrom: `));
    expect(got.mailFrom).toBe('bench-sender@example.net');
    c.close();
  });

  it('a message over the size limit: 552 5.3.4, nothing queued, the session goes on', async () => {
    const c = await transaction();
    await command(c, 'RCPT TO:<alice@example.com>');
    const big = `Subject: big\r\n\r\n${'x'.repeat(70)}\r\n`.repeat(Math.ceil((MAX_BYTES * 2) / 72));
    const { done } = await data(c, `${big}.\r\n`);
    expect(done.line).toMatch(/^552 5\.3\.4 /);
    expect((await command(c, 'NOOP')).code).toBe(250);
    c.close();
  });

  it('DATA without recipients: 503 (RFC 5321 §4.1.1.4)', async () => {
    const c = await transaction();
    expect((await command(c, 'DATA')).code).toBe(503);
    c.close();
  });

  it('dot-stuffed lines (§4.5.2) arrive unstuffed', async () => {
    const c = await transaction();
    await command(c, 'RCPT TO:<bob@example.com>');
    const before = sink.deliveries.length;
    const { done } = await data(c, message('stuffed', '..leading dot\r\n...\r\nend'));
    expect(done.code).toBe(250);
    await sink.waitFor(before + 1);
    const got = sink.deliveries.find((d) => d.messageId === '<stuffed@example.net>')!;
    expect(got.message.toString()).toContain('\r\n\r\n.leading dot\r\n..\r\nend\r\n');
    c.close();
  });
});

describe('SMTP smuggling (RFC 5321 §2.3.8: CR and LF only as CRLF): every variant refused, the session stays in step', () => {
  const smuggled = 'MAIL FROM:<evil@example.net>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nSubject: forged\r\n\r\nforged\r\n';
  it.each([
    ['<LF>.<LF>', `Subject: a\r\n\r\nbody\n.\n${smuggled}.\r\n`],
    ['<CR><LF>.<LF>', `Subject: a\r\n\r\nbody\r\n.\n${smuggled}.\r\n`],
    ['<LF>.<CR><LF>', `Subject: a\r\n\r\nbody\n.\r\n${smuggled}.\r\n`],
    ['<CR>.<CR>', `Subject: a\r\n\r\nbody\r.\r${smuggled}.\r\n`],
    ['<CR><LF>.<CR>', `Subject: a\r\n\r\nbody\r\n.\r${smuggled}.\r\n`],
    ['a bare LF in a header', 'Subject: a\nX: b\r\n\r\nbody\r\n.\r\n'],
    ['a bare CR in the body', 'Subject: a\r\n\r\nbo\rdy\r\n.\r\n'],
  ])('%s → 554 5.6.0, nothing queued, no forged transaction', async (_what, body) => {
    const c = await transaction();
    await command(c, 'RCPT TO:<alice@example.com>');
    const before = sink.deliveries.length;
    const queued = (await gw.queue.ids()).length;
    const { done } = await data(c, body);
    expect(done.line).toMatch(/^554 5\.6\.0 message refused: bare CR or LF/);
    // Exactly one reply to the whole DATA: the next command is answered as the next command.
    expect((await command(c, 'NOOP')).line).toMatch(/^250 /);
    expect((await gw.queue.ids()).length).toBe(queued);
    await gw.runner.idle();
    expect(sink.deliveries.length).toBe(before);
    expect(sink.deliveries.some((d) => d.mailFrom === 'evil@example.net')).toBe(false);
    c.close();
  });
});

describe('RFC 5321 §4.5.3.1: line length limits', () => {
  it('a command line longer than the limit: 421 and the connection is closed', async () => {
    const { c } = await openSession(gw.smtpPort);
    c.send(`MAIL FROM:<${'x'.repeat(3000)}@example.net>`);
    expect((await readReply(c)).code).toBe(421);
    await c.waitClosed();
  });

  it('a message line longer than the limit: 554 5.6.0', async () => {
    const short = await startTestGateway({ lmtpPort: sink.port, over: { maxLineBytes: 1000 } });
    try {
      const { c } = await openSession(short.smtpPort);
      await command(c, 'MAIL FROM:<x@example.net>');
      await command(c, 'RCPT TO:<alice@example.com>');
      const ok = await data(c, `Subject: fits\r\n\r\n${'y'.repeat(998)}\r\n.\r\n`);
      expect(ok.done.code).toBe(250);
      await command(c, 'MAIL FROM:<x@example.net>');
      await command(c, 'RCPT TO:<alice@example.com>');
      const long = await data(c, `Subject: long\r\n\r\n${'y'.repeat(999)}\r\n.\r\n`);
      expect(long.done.line).toMatch(/^554 5\.6\.0 message refused: a line is longer than 1000 octets/);
      c.close();
    } finally {
      await short.dispose();
    }
  });
});
