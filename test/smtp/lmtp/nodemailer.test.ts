import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANN, BEN, CAL, imapMessages, startSmtpTestNode, type SmtpTestNode } from '../../helpers/smtp';

/** nodemailer's LMTP client (the gateway's delivery transport) against the node, read back with imapflow. */
let node: SmtpTestNode;
beforeAll(async () => {
  node = await startSmtpTestNode();
});
afterAll(() => node.dispose());

describe('nodemailer with lmtp: true', () => {
  it('delivers per recipient: accepted, over quota and unknown are told apart', async () => {
    const transport = createTransport({ host: '127.0.0.1', port: node.lmtpPort, lmtp: true, ignoreTLS: true, name: 'gw.test', logger: false });
    try {
      const info = await transport.sendMail({
        envelope: { from: 'sender@example.net', to: [ANN.address, BEN.address, CAL.address, 'ghost@example.com'] },
        raw: 'From: Sender <sender@example.net>\r\nTo: ann@example.com\r\nSubject: via nodemailer lmtp\r\nMessage-ID: <nm-lmtp-1@example.net>\r\n\r\n' + `${'z'.repeat(300)}\r\n`,
      });
      expect(info.accepted).toEqual([ANN.address, BEN.address]);
      expect([...info.rejected].sort()).toEqual([CAL.address, 'ghost@example.com']);
      const codes = Object.fromEntries(
        ((info as unknown as { rejectedErrors: { recipient: string; response: string }[] }).rejectedErrors ?? []).map((e) => [e.recipient, e.response]),
      );
      expect(codes).toEqual({ 'ghost@example.com': '550 5.1.1 No such user here', [CAL.address]: '552 5.2.2 Mailbox full (quota exceeded)' });
    } finally {
      transport.close();
    }
    for (const user of [ANN, BEN]) {
      const got = await imapMessages(node.imapPort, user);
      expect(got).toHaveLength(1);
      expect(got[0]).toContain('Message-ID: <nm-lmtp-1@example.net>');
      expect(got[0]).toMatch(/^Return-Path: <sender@example\.net>\r\nReceived: from gw\.test /);
    }
    expect(await imapMessages(node.imapPort, CAL)).toEqual([]);
  });
});
