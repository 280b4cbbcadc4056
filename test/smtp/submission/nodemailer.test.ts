import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../helpers/daemon';
import type { Route, Router } from '../../../mail-runtime/smtp/routing/types';
import { ANN, BEN, MemoryQueue, imapMessages, startSmtpTestNode, type SmtpTestNode } from '../../helpers/smtp';

/**
 * nodemailer as the mail client: STARTTLS on the submission port and
 * implicit TLS on the SMTPS port, verifying the node's own self-signed
 * certificate; what it sends is read back through IMAP with imapflow. A
 * second node owns ben's mailbox for the LMTP hand-over between nodes.
 */
let a: SmtpTestNode;
let b: SmtpTestNode;
const queue = new MemoryQueue();
/** Routes ben to the node named here; everyone else is A's or outside. */
let benAt: { memberId: string; host: string; port: number } | undefined;

beforeAll(async () => {
  b = await startSmtpTestNode({ memberId: 'node-b' });
  const router: Router = {
    route: (address) => {
      const lower = address.toLowerCase();
      const r: Route =
        lower === BEN.address && benAt
          ? { kind: 'local', address: BEN.address, node: benAt }
          : lower.endsWith('@example.com')
            ? { kind: 'local', address: lower, node: { memberId: 'node-a', host: '127.0.0.1', port: 0 } }
            : { kind: 'remote', address, domain: lower.split('@')[1]! };
      return Promise.resolve(r);
    },
  };
  a = await startSmtpTestNode({ memberId: 'node-a', plaintextAuth: 'never', queue, router });
});
afterAll(async () => {
  await a.dispose();
  await b.dispose();
});

const transport = (secure: boolean) =>
  createTransport({
    host: '127.0.0.1',
    port: secure ? a.smtpsPort : a.submissionPort,
    secure,
    requireTLS: !secure,
    name: 'laptop.test',
    auth: { user: ANN.address, pass: ANN.password },
    // The node's generated certificate names mx.test, localhost and 127.0.0.1.
    tls: { ca: [a.certPem], servername: 'mx.test' },
    logger: false,
  });

describe('nodemailer submits over TLS (RFC 6409, RFC 3207, RFC 8314)', () => {
  it.each([
    ['587 with STARTTLS', false],
    ['465 with implicit TLS', true],
  ])('%s: a hosted user on this node gets it at once', async (what, secure) => {
    benAt = undefined;
    const t = transport(secure);
    try {
      const info = await t.sendMail({ from: 'Ann <ann@example.com>', to: 'ann@example.com', subject: `self via ${what}`, text: 'note to self' });
      expect(info.accepted).toEqual(['ann@example.com']);
      expect(info.response).toBe('250 2.0.0 Ok: delivered');
    } finally {
      t.close();
    }
    const got = (await imapMessages(a.imapPort, ANN)).filter((m) => m.includes(`Subject: self via ${what}`));
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(/^Return-Path: <ann@example\.com>\r\nReceived: from laptop\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.test \(mailfleet\) with ESMTPSA id /);
    expect(got[0]).toContain('note to self');
  });

  it('a mailbox another node owns is delivered there over LMTP; an outside recipient is queued', async () => {
    benAt = { memberId: 'node-b', host: '127.0.0.1', port: b.lmtpPort };
    const t = transport(false);
    try {
      const info = await t.sendMail({ from: 'ann@example.com', to: ['ben@example.com', 'pal@remote.example'], subject: 'across nodes', text: 'hi ben' });
      expect(info.accepted).toEqual(['ben@example.com', 'pal@remote.example']);
      expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as q\d+$/);
    } finally {
      t.close();
    }
    const atB = (await imapMessages(b.imapPort, BEN)).filter((m) => m.includes('Subject: across nodes'));
    expect(atB).toHaveLength(1);
    // B's final delivery on top of A's submission trace.
    expect(atB[0]).toMatch(/^Return-Path: <ann@example\.com>\r\nReceived: from mx\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.test \(mailfleet\) with LMTP id \S+\r\n\tfor <ben@example\.com>;\r\n.*\r\nReceived: from laptop\.test /);
    expect((await imapMessages(a.imapPort, BEN)).some((m) => m.includes('across nodes'))).toBe(false);
    const entry = queue.entries.at(-1)!.entry;
    expect(entry.recipients).toEqual([{ address: 'pal@remote.example', status: 'pending', attempts: 0 }]);
  });

  it('an owner node that does not answer: the hosted recipient goes to the queue instead (temporary)', async () => {
    const port = await freePort();
    benAt = { memberId: 'node-b', host: '127.0.0.1', port };
    const t = transport(true);
    try {
      const info = await t.sendMail({ from: 'ann@example.com', to: 'ben@example.com', subject: 'owner down', text: '...' });
      expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as q\d+$/);
    } finally {
      t.close();
    }
    const [rcpt] = queue.entries.at(-1)!.entry.recipients;
    expect(rcpt).toMatchObject({ address: 'ben@example.com', status: 'pending', attempts: 1 });
    expect(rcpt!.lastReply).toMatch(/^451 4\.4\.1 Owner node unreachable: /);
  });

  it('a spoofed From: is refused and nodemailer reports it', async () => {
    benAt = undefined;
    const t = transport(true);
    try {
      await expect(t.sendMail({ from: 'ben@example.com', to: 'ann@example.com', subject: 'spoof', text: 'x' })).rejects.toMatchObject({
        responseCode: 553,
        response: '553 5.7.1 Sender address <ben@example.com> is not owned by user ann@example.com',
      });
      await expect(t.sendMail({ envelope: { from: 'ann@example.com', to: 'ann@example.com' }, from: 'ben@example.com', to: 'ann@example.com', subject: 'spoof', text: 'x' })).rejects.toMatchObject({
        responseCode: 550,
        response: '550 5.7.1 From: address <ben@example.com> is not owned by user ann@example.com',
      });
    } finally {
      t.close();
    }
  });
});
