import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsStub } from '../../helpers/dns-stub';
import { startTestGateway, type TestGateway } from '../../helpers/gateway';
import { startTestNode, type TestNode } from '../../helpers/node';
import { startSink, type Sink } from '../../helpers/smtp-sink';
import { ALICE } from '../../helpers/users';

/**
 * Mail leaving the cluster through a real gateway: its delivery workers hand
 * remote recipients to the outbound transport, which finds the sink through
 * MX and A records of a DNS stub; a permanent 550 becomes an RFC 3464 DSN in
 * the (hosted) sender's INBOX on a real node; a 451 is retried on the queue's
 * one schedule; relayed mail of a foreign sender leaves with an SRS sender.
 */
describe('gateway → outbound (DNS stub MX → loopback sink), DSN to the sender’s INBOX', () => {
  let dns: DnsStub;
  let sink: Sink;
  let node: TestNode;
  let gw: TestGateway;
  const tempFailed = new Set<string>();

  beforeAll(async () => {
    dns = await DnsStub.start();
    sink = await startSink({
      rcpt: (a) => {
        if (a.startsWith('nobody@')) return { code: 550, message: '5.1.1 <nobody@example.net>: user unknown' };
        // The first attempt for later@ is told to come back.
        if (a.startsWith('later@') && !tempFailed.has(a)) {
          tempFailed.add(a);
          return { code: 451, message: '4.2.0 <later@example.net>: try again' };
        }
        return undefined;
      },
    });
    dns.add('example.net', { type: 'MX', data: { preference: 10, exchange: 'mx.example.net' } });
    dns.add('mx.example.net', { type: 'A', data: '127.0.0.1' });
    node = await startTestNode();
    const secretFile = join(node.dir, 'srs-secrets');
    await writeFile(secretFile, 'a-test-srs-secret-of-enough-length\n');
    gw = await startTestGateway({
      lmtpPort: node.lmtpPort,
      config: {
        relayNetworks: ['127.0.0.0/8'],
        queue: { retryFirstSeconds: 1, retryMaxSeconds: 1 },
        outbound: { resolvers: [dns.address], mxPort: sink.port, tls: { mtaSts: false, dane: false }, srs: { domain: 'fwd.example.com', secretFile } },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await gw?.dispose();
    await node?.dispose();
    await sink?.close();
    await dns?.close();
  });

  async function send(from: string, to: string[], subject: string): Promise<void> {
    const t = createTransport({ host: '127.0.0.1', port: gw.smtpPort, secure: false, tls: { rejectUnauthorized: false } });
    try {
      await t.sendMail({ envelope: { from, to }, from, to, subject, text: 'Outbound test.', messageId: `<${subject}@example.com>` });
    } finally {
      t.close();
    }
  }

  async function inbox(): Promise<string[]> {
    const imap = new ImapFlow({ host: '127.0.0.1', port: node.imapPort, secure: false, auth: { user: ALICE.address, pass: ALICE.password }, logger: false, tls: { rejectUnauthorized: false } });
    await imap.connect();
    try {
      const lock = await imap.getMailboxLock('INBOX');
      try {
        const out: string[] = [];
        for await (const m of imap.fetch('1:*', { source: true })) out.push(m.source!.toString());
        return out;
      } finally {
        lock.release();
      }
    } finally {
      await imap.logout();
    }
  }

  async function until(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
    // Bounded in count, not a timed assertion: the retry is due a second after the first attempt.
    for (let i = 0; i < 300; i++) {
      if (await done()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`not reached: ${what}`);
  }

  it('delivers to the MX, retries a 451, and a 550 comes back as a DSN in the sender’s INBOX', async () => {
    await send(ALICE.address, ['bob@example.net', 'nobody@example.net', 'later@example.net'], 'report-1');
    await until('bob and later delivered', () => sink.messages.flatMap((m) => m.rcptTo).includes('later@example.net'));
    await until('the queue is empty', async () => (await gw.queue.ids()).length === 0);
    await gw.runner.idle();

    const delivered = sink.messages.filter((m) => m.data.toString().includes('Message-ID: <report-1@example.com>'));
    expect(delivered.map((m) => m.rcptTo)).toEqual([['bob@example.net'], ['later@example.net']]);
    expect(delivered.every((m) => m.mailFrom === ALICE.address)).toBe(true);
    // The MX was found through the stub.
    expect(dns.queries.some((q) => q.name === 'example.net' && q.type === 'MX')).toBe(true);

    const dsns = (await inbox()).filter((m) => /^Content-Type: multipart\/report; report-type=delivery-status/im.test(m));
    expect(dsns).toHaveLength(1);
    const dsn = dsns[0]!;
    expect(dsn).toMatch(/^Return-Path: <>\r\n/);
    expect(dsn).toMatch(/^Final-Recipient: rfc822; nobody@example\.net\r$/m);
    expect(dsn).toMatch(/^Action: failed\r$/m);
    expect(dsn).toMatch(/^Status: 5\.1\.1\r$/m);
    expect(dsn).toMatch(/^Reporting-MTA: dns; mx\.test\r$/m);
    expect(dsn).not.toMatch(/Final-Recipient: rfc822; (bob|later)@/);
  });

  it('relayed mail of a sender we do not host leaves with an SRS envelope sender', async () => {
    await send('someone@remote.example', ['bob@example.net'], 'forwarded-1');
    await until('delivered', () => sink.messages.some((m) => m.data.toString().includes('Message-ID: <forwarded-1@example.com>')));
    const m = sink.messages.find((x) => x.data.toString().includes('Message-ID: <forwarded-1@example.com>'))!;
    expect(m.mailFrom).toMatch(/^SRS0=[^=]+=[^=]+=remote\.example=someone@fwd\.example\.com$/);
  });
});
