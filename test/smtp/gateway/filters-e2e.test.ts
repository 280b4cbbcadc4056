import { ImapFlow } from 'imapflow';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EICAR, EICAR_SIGNATURE, startClamd, type TestClamd } from '../../helpers/clamd';
import { startTestGateway, type TestGateway } from '../../helpers/gateway';
import { startTestNode, type TestNode } from '../../helpers/node';
import { GTUBE, startRspamd, type TestRspamd } from '../../helpers/rspamd';
import { ALICE } from '../../helpers/users';

/**
 * The gateway's filter chain as RuntimeConfig `filters` builds it, with the
 * real daemons: clamd (our own EICAR signature) and rspamd over HTTP, in a
 * real gateway delivering over LMTP to a real node, read back through IMAP.
 * The spam thresholds put GTUBE between the junk and the reject score, so
 * it is delivered to Junk.
 */
describe('gateway filters: clamd and rspamd in the MX, Junk on the node', () => {
  let clamd: TestClamd;
  let rspamd: TestRspamd;
  let node: TestNode;
  let gw: TestGateway;

  beforeAll(async () => {
    [clamd, rspamd, node] = await Promise.all([startClamd(), startRspamd(), startTestNode()]);
    gw = await startTestGateway({
      lmtpPort: node.lmtpPort,
      config: {
        filters: {
          clamd: { address: clamd.tcp },
          spam: { kind: 'rspamd', address: rspamd.http, junkScore: 5, rejectScore: 5000 },
        },
      },
    });
  }, 180_000);
  afterAll(async () => {
    await gw?.dispose();
    await node?.dispose();
    await Promise.all([clamd?.dispose(), rspamd?.dispose()]);
  });

  async function send(subject: string, text: string, extraHeaders: Record<string, string> = {}): Promise<string> {
    const t = createTransport({ host: '127.0.0.1', port: gw.smtpPort, secure: false, tls: { rejectUnauthorized: false } });
    try {
      const info = await t.sendMail({ from: 'bench-sender@example.net', to: ALICE.address, subject, text, headers: extraHeaders, messageId: `<${subject.replace(/\W/g, '-')}@example.net>` });
      return info.response;
    } catch (err) {
      return (err as { response?: string }).response ?? String(err);
    } finally {
      t.close();
    }
  }

  async function mailbox(path: string): Promise<{ subject?: string; source: string }[]> {
    const imap = new ImapFlow({ host: '127.0.0.1', port: node.imapPort, secure: false, auth: { user: ALICE.address, pass: ALICE.password }, logger: false, tls: { rejectUnauthorized: false } });
    await imap.connect();
    try {
      const list = await imap.list();
      if (!list.some((m) => m.path === path)) return [];
      const lock = await imap.getMailboxLock(path);
      try {
        const out: { subject?: string; source: string }[] = [];
        for await (const m of imap.fetch('1:*', { envelope: true, source: true })) out.push({ subject: m.envelope?.subject, source: m.source!.toString() });
        return out;
      } finally {
        lock.release();
      }
    } finally {
      await imap.logout();
    }
  }

  it('EICAR is refused at DATA naming the signature; nothing is queued', async () => {
    const reply = await send('virus', `Here it is:\r\n${EICAR}\r\n`);
    expect(reply).toMatch(new RegExp(`^554 5\\.7\\.1 .*${EICAR_SIGNATURE.replace(/\./g, '\\.')}`));
    expect(await gw.queue.ids()).toEqual([]);
  });

  it('GTUBE is accepted and filed into Junk with the score headers; a clean message lands in INBOX; a planted folder hint is removed', async () => {
    expect(await send('spammy', `Buy now.\r\n${GTUBE}\r\n`)).toMatch(/^250 /);
    expect(await send('clean', 'Shall we meet for lunch on Thursday?', { 'X-Mailfleet-Folder': 'Junk' })).toMatch(/^250 /);
    await gw.runner.idle();
    expect(await gw.queue.ids()).toEqual([]);

    const junk = await mailbox('Junk');
    expect(junk.map((m) => m.subject)).toEqual(['spammy']);
    expect(junk[0]!.source).toMatch(/\r\nX-Spam-Status: Yes, score=/);
    // The hint travelled to the node as a header and the node took it out.
    expect(junk[0]!.source).not.toMatch(/X-Mailfleet-Folder/i);

    const inbox = await mailbox('INBOX');
    expect(inbox.map((m) => m.subject)).toEqual(['clean']);
    expect(inbox[0]!.source).toMatch(/\r\nX-Spam-Status: No, score=/);
    expect(inbox[0]!.source).not.toMatch(/X-Mailfleet-Folder/i);
  });
});
