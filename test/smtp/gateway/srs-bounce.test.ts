import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Srs } from '../../../mail-runtime/smtp/outbound';
import { startTestGateway, type TestGateway } from '../../helpers/gateway';
import { command, data, openSession } from '../../helpers/smtp-raw';
import { startSink, type Sink } from '../../helpers/smtp-sink';

/**
 * SRS bounce reversal at the MX (RFC 5321 §4.5.5 bounces go to the envelope
 * sender, which for forwarded mail is our SRS address): a DSN to an
 * SRS0/SRS1 address of ours is routed to the address it rewrote, from any
 * client (no relayNetworks here: it is not relay); a forged hash or an
 * expired timestamp is 550 5.1.1. Over real SMTP to the gateway, the
 * returned bounce at a loopback sink standing for the original sender's MX.
 */
const SECRET = 'a-test-srs-secret-of-enough-length';
const SRS_DOMAIN = 'fwd.example.com';
const DAY_MS = 86_400_000;

let sink: Sink;
let gw: TestGateway;
let dir: string;
beforeAll(async () => {
  sink = await startSink();
  dir = await mkdtemp(join(tmpdir(), 'mf-srs-'));
  await writeFile(join(dir, 'srs-secrets'), `${SECRET}\n`);
  gw = await startTestGateway({
    dir,
    config: {
      outbound: {
        routes: { 'sender.example': `127.0.0.1:${sink.port}`, 'first-hop.example': `127.0.0.1:${sink.port}` },
        srs: { domain: SRS_DOMAIN, secretFile: join(dir, 'srs-secrets') },
      },
    },
  });
}, 60_000);
afterAll(async () => {
  await gw?.dispose();
  await sink?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The SRS the gateway's outbound transport uses, as of `daysAgo` days ago. */
function srsAsOf(daysAgo: number): Srs {
  return new Srs({ domain: SRS_DOMAIN, secrets: [SECRET], maxAgeDays: 21, now: () => new Date(Date.now() - daysAgo * DAY_MS) });
}

function bounce(id: string, to: string): string {
  return (
    `From: MAILER-DAEMON@remote-mx.example\r\nTo: <${to}>\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <${id}@remote-mx.example>\r\n` +
    `Content-Type: text/plain\r\n\r\nThe message you forwarded could not be delivered.\r\n.\r\n`
  );
}

async function waitForSink(id: string): Promise<Sink['messages'][number]> {
  for (let i = 0; i < 300; i++) {
    const m = sink.messages.find((x) => x.data.toString().includes(`<${id}@remote-mx.example>`));
    if (m) return m;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the bounce ${id} did not reach the sink`);
}

describe('a bounce to our SRS address', () => {
  it('SRS0: accepted from anyone and returned to the original sender, with the null sender', async () => {
    const address = srsAsOf(0).forward('carol@sender.example');
    const { c } = await openSession(gw.smtpPort, 'remote-mx.example');
    expect((await command(c, 'MAIL FROM:<>')).code).toBe(250);
    expect((await command(c, `RCPT TO:<${address}>`)).code).toBe(250);
    expect((await data(c, bounce('srs0-bounce', address))).done.code).toBe(250);
    c.close();
    const m = await waitForSink('srs0-bounce');
    expect([m.mailFrom, m.rcptTo]).toEqual(['', ['carol@sender.example']]);
  });

  it('SRS1: returned to the first forwarder’s SRS0 address', async () => {
    const first = new Srs({ domain: 'first-hop.example', secrets: ['first-forwarder-secret'], maxAgeDays: 21 });
    const theirs = first.forward('dan@elsewhere.example');
    const address = srsAsOf(0).forward(theirs);
    expect(address).toMatch(/^SRS1=/);
    const { c } = await openSession(gw.smtpPort, 'remote-mx.example');
    await command(c, 'MAIL FROM:<>');
    expect((await command(c, `RCPT TO:<${address}>`)).code).toBe(250);
    expect((await data(c, bounce('srs1-bounce', address))).done.code).toBe(250);
    c.close();
    const m = await waitForSink('srs1-bounce');
    expect(m.rcptTo).toEqual([theirs]);
  });

  it('a forged hash, an expired timestamp, another secret: 550 5.1.1, nothing queued', async () => {
    const good = srsAsOf(0).forward('carol@sender.example');
    const forged = good.replace(/^SRS0=(....)/, (_m, h: string) => `SRS0=${h === 'AAAA' ? 'BBBB' : 'AAAA'}`);
    const expired = srsAsOf(30).forward('carol@sender.example');
    const stranger = new Srs({ domain: SRS_DOMAIN, secrets: ['somebody-elses-secret-000'], maxAgeDays: 21 }).forward('carol@sender.example');
    const { c } = await openSession(gw.smtpPort, 'remote-mx.example');
    await command(c, 'MAIL FROM:<>');
    for (const address of [forged, expired, stranger, `SRS0=garbage@${SRS_DOMAIN}`]) {
      expect((await command(c, `RCPT TO:<${address}>`)).line).toBe(`550 5.1.1 <${address}>: recipient address rejected: user unknown`);
    }
    // A valid one in the same transaction still works: the refusals were per recipient.
    expect((await command(c, `RCPT TO:<${good}>`)).code).toBe(250);
    expect((await command(c, 'RSET')).code).toBe(250);
    c.close();
    expect(await gw.queue.ids()).toEqual([]);
  });

  it('without the SRS reversal the MX would treat it as relay (this gateway has no relayNetworks)', async () => {
    const { c } = await openSession(gw.smtpPort, 'remote-mx.example');
    await command(c, 'MAIL FROM:<>');
    expect((await command(c, 'RCPT TO:<carol@sender.example>')).line).toMatch(/^550 5\.7\.1 /);
    c.close();
  });
});
