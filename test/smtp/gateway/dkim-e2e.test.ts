import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimVerify } from 'mailauth/lib/dkim/verify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../helpers/gateway';
import { command, data, openSession } from '../../helpers/smtp-raw';
import { startSink, type Sink } from '../../helpers/smtp-sink';

/**
 * DKIM (RFC 6376) on what leaves the gateway, verified by mailauth as the
 * receiving MTA would (public keys from a resolver stub): a member's relayed
 * submission is signed with its From domain's key (outbound.dkim), and the
 * RFC 3464 DSN the gateway writes for a 550 is signed with the key of its
 * own MAILER-DAEMON domain.
 */
const TOKEN = 'cluster-token-for-tests-0123456789abcdef';
const plain = (user: string, pass: string): string => Buffer.from(`\0${user}\0${pass}`).toString('base64');

const published = new Map<string, string>();
const resolver = async (name: string, type: string): Promise<string[][]> => {
  const txt = type === 'TXT' ? published.get(name.toLowerCase()) : undefined;
  if (!txt) throw Object.assign(new Error(`no ${type} for ${name}`), { code: 'ENOTFOUND' });
  return [[txt]];
};

async function keyFile(dir: string, name: string, dnsName: string): Promise<string> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const file = join(dir, `${name}.pem`);
  await writeFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  published.set(dnsName, `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`);
  return file;
}

let sink: Sink;
let gw: TestGateway;
let dir: string;
beforeAll(async () => {
  sink = await startSink({ rcpt: (a) => (a.startsWith('nobody@') ? { code: 550, message: '5.1.1 <nobody@example.net>: user unknown' } : undefined) });
  dir = await mkdtemp(join(tmpdir(), 'mf-dkim-gw-'));
  await writeFile(join(dir, 'cluster-token'), TOKEN);
  const users = await keyFile(dir, 'users', 's1._domainkey.example.com');
  const daemon = await keyFile(dir, 'daemon', 'dsn._domainkey.mx.test');
  gw = await startTestGateway({
    dir,
    config: {
      listen: { smtp: { host: '127.0.0.1', port: 0 }, relay: { host: '127.0.0.1', port: 0 } },
      clusterTokenFile: join(dir, 'cluster-token'),
      // The relay listener relays only hosted senders: a forwarded message with a foreign sender comes in from a relay network.
      relayNetworks: ['127.0.0.0/8'],
      outbound: {
        routes: { 'example.net': `127.0.0.1:${sink.port}`, 'sender.example': `127.0.0.1:${sink.port}` },
        dkim: { 'example.com': { selector: 's1', keyFile: users }, 'mx.test': { selector: 'dsn', keyFile: daemon } },
      },
    },
  });
}, 60_000);
afterAll(async () => {
  await gw?.dispose();
  await sink?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function relay(from: string, to: string, id: string, fromHeader: string): Promise<void> {
  const member = from.endsWith('@example.com');
  const { c } = await openSession(member ? gw.relayPort! : gw.smtpPort, 'node.test');
  if (member) expect((await command(c, `AUTH PLAIN ${plain('test-node', TOKEN)}`)).code).toBe(235);
  expect((await command(c, `MAIL FROM:<${from}>`)).code).toBe(250);
  expect((await command(c, `RCPT TO:<${to}>`)).code).toBe(250);
  const body = `From: <${fromHeader}>\r\nTo: <${to}>\r\nSubject: ${id}\r\nMessage-ID: <${id}@example.com>\r\n\r\nSigned on the way out.\r\n.\r\n`;
  expect((await data(c, body)).done.code).toBe(250);
  c.close();
}

async function atSink(match: (text: string) => boolean, what: string): Promise<Buffer> {
  for (let i = 0; i < 300; i++) {
    const m = sink.messages.find((x) => match(x.data.toString()));
    if (m) return m.data;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not reach the sink`);
}

describe('DKIM on mail leaving the gateway', () => {
  it('a member’s relayed submission is signed with its From domain’s key and verifies', async () => {
    await relay('alice@example.com', 'bob@example.net', 'signed-submission', 'alice@example.com');
    const got = await atSink((t) => t.includes('<signed-submission@example.com>'), 'the relayed message');
    expect(got.toString()).toMatch(/^DKIM-Signature: [^\r]*d=example\.com/);
    const v = await dkimVerify(got, { resolver });
    expect(v.results.map((r) => [r.signingDomain, r.status.result])).toEqual([['example.com', 'pass']]);
  });

  it('the DSN for a 550 is signed with the MAILER-DAEMON domain’s key and verifies', async () => {
    // A forwarded message (foreign sender) whose recipient does not exist: the DSN goes back out to that sender.
    await relay('carol@sender.example', 'nobody@example.net', 'bounced', 'carol@sender.example');
    const dsn = await atSink((t) => /report-type=delivery-status/i.test(t) && t.includes('nobody@example.net'), 'the DSN');
    const text = dsn.toString();
    expect(text).toMatch(/^From: Mail Delivery System <MAILER-DAEMON@mx\.test>\r$/m);
    const v = await dkimVerify(dsn, { resolver });
    expect(v.results.map((r) => [r.signingDomain, r.status.result])).toEqual([['mx.test', 'pass']]);
    const m = sink.messages.find((x) => x.data.equals(dsn))!;
    expect([m.mailFrom, m.rcptTo]).toEqual(['', ['carol@sender.example']]);
  });
});
