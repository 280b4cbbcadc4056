import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../helpers/gateway';
import { LineClient } from '../../helpers/line-client';
import { startTestNode, type TestNode } from '../../helpers/node';
import { command, data, message, openSession, readReply } from '../../helpers/smtp-raw';
import { startSink, type Sink } from '../../helpers/smtp-sink';
import { ALICE } from '../../helpers/users';

/**
 * Relay through the gateway: only cluster members, logged in on the relay
 * listener (`listen.relay`) with AUTH PLAIN and the cluster token; the MX
 * stays no open relay. Raw sockets for the exact replies, nodemailer and a
 * real node for the path a user's submitted mail takes.
 */
const TOKEN = 'cluster-token-for-tests-0123456789abcdef';
const plain = (user: string, pass: string): string => Buffer.from(`\0${user}\0${pass}`).toString('base64');

async function waitFor(what: string, done: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !done(); i++) await new Promise((r) => setTimeout(r, 100));
  if (!done()) throw new Error(`timed out waiting for ${what}`);
}

let sink: Sink;
let gw: TestGateway;
beforeAll(async () => {
  sink = await startSink();
  const dir = await mkdtemp(join(tmpdir(), 'mf-relay-'));
  await writeFile(join(dir, 'cluster-token'), `${TOKEN}\n`);
  gw = await startTestGateway({
    dir,
    config: {
      listen: { smtp: { host: '127.0.0.1', port: 0 }, relay: { host: '127.0.0.1', port: 0 } },
      clusterTokenFile: join(dir, 'cluster-token'),
      outbound: { routes: { 'example.net': `127.0.0.1:${sink.port}` } },
    },
  });
}, 60_000);
afterAll(async () => {
  await gw?.dispose();
  await sink?.close();
  if (gw) await rm(gw.dir, { recursive: true, force: true });
});

describe('the MX: no open relay, no AUTH', () => {
  it('an unauthenticated relay attempt is refused 550 5.7.1; AUTH is not a command there', async () => {
    const { c, ehlo } = await openSession(gw.smtpPort);
    expect(ehlo.lines.some((l) => /AUTH/.test(l))).toBe(false);
    expect((await command(c, `AUTH PLAIN ${plain('test-node', TOKEN)}`)).code).toBeGreaterThanOrEqual(500);
    expect((await command(c, 'MAIL FROM:<alice@example.com>')).code).toBe(250);
    expect((await command(c, 'RCPT TO:<bob@example.net>')).line).toBe('550 5.7.1 <bob@example.net>: relay access denied');
    c.close();
  });
});

describe('the relay listener (cluster members only)', () => {
  it('MAIL before AUTH: 530 5.7.0; a wrong token: 535 5.7.8, nothing relayed', async () => {
    const { c, ehlo } = await openSession(gw.relayPort!);
    expect(ehlo.lines.some((l) => /AUTH PLAIN/.test(l))).toBe(true);
    expect((await command(c, 'MAIL FROM:<alice@example.com>')).line).toMatch(/^530 5\.7\.0 /);
    expect((await command(c, `AUTH PLAIN ${plain('test-node', 'not-the-token')}`)).line).toBe('535 5.7.8 authentication credentials invalid');
    expect((await command(c, 'MAIL FROM:<alice@example.com>')).code).toBe(530);
    c.close();
  });

  it('failed AUTHs are bounded per connection (limits.loginFailuresPerConnection, 3): the third closes it with 421 4.7.0', async () => {
    const { c } = await openSession(gw.relayPort!);
    for (let i = 0; i < 2; i++) expect((await command(c, `AUTH PLAIN ${plain('test-node', `guess-${i}`)}`)).code).toBe(535);
    expect((await command(c, `AUTH PLAIN ${plain('test-node', 'guess-2')}`)).line).toBe('421 4.7.0 too many failed logins, closing connection');
    await c.waitClosed();
  });

  it('a member with the cluster token relays: queued, then delivered to the remote MX', async () => {
    const { c } = await openSession(gw.relayPort!);
    expect((await command(c, `AUTH PLAIN ${plain('test-node', TOKEN)}`)).line).toMatch(/^235 /);
    expect((await command(c, 'MAIL FROM:<alice@example.com>')).code).toBe(250);
    expect((await command(c, 'RCPT TO:<carol@example.net>')).code).toBe(250);
    const done = (await data(c, message('member-relay'))).done;
    expect(done.line).toMatch(/^250 .*queued as \S+/);
    c.close();
    await waitFor('the relayed message at the sink', () => sink.messages.some((m) => m.data.toString().includes('<member-relay@example.net>')));
    expect(sink.messages.find((m) => m.data.toString().includes('<member-relay@example.net>'))!.rcptTo).toEqual(['carol@example.net']);
  });
});

describe('plaintextAuth decides where the token may cross in clear', () => {
  let strict: TestGateway;
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mf-relay-'));
    await writeFile(join(dir, 'cluster-token'), TOKEN);
    strict = await startTestGateway({
      dir,
      config: { plaintextAuth: 'never', listen: { smtp: { host: '127.0.0.1', port: 0 }, relay: { host: '127.0.0.1', port: 0 } }, clusterTokenFile: join(dir, 'cluster-token') },
    });
  }, 60_000);
  afterAll(async () => {
    await strict?.dispose();
    if (strict) await rm(strict.dir, { recursive: true, force: true });
  });

  it('without STARTTLS: 538 5.7.11, even with the right token', async () => {
    const c = await LineClient.connect(strict.relayPort!);
    await readReply(c);
    await command(c, 'EHLO node.test');
    expect((await command(c, `AUTH PLAIN ${plain('test-node', TOKEN)}`)).line).toMatch(/^538 5\.7\.11 /);
    c.close();
  });
});

describe('node submission → gateway relay listener (cluster token) → remote MX', () => {
  let node: TestNode;
  beforeAll(async () => {
    // No relayNetworks on the gateway: the token is the only way through.
    node = await startTestNode({ submission: true, gatewayRelay: `127.0.0.1:${gw.relayPort!}`, clusterTokenFile: join(gw.dir, 'cluster-token') });
  }, 60_000);
  afterAll(async () => {
    await node?.dispose();
  });

  it('a user’s message for outside is relayed by the node as a member and reaches the remote MX', async () => {
    const t = createTransport({ host: '127.0.0.1', port: node.submissionPort, secure: false, auth: { user: ALICE.address, pass: ALICE.password }, tls: { rejectUnauthorized: false }, logger: false });
    try {
      const info = await t.sendMail({ from: ALICE.address, to: 'dave@example.net', subject: 'out', text: 'Leaving.', messageId: '<node-relay@example.com>' });
      expect(info.accepted).toEqual(['dave@example.net']);
    } finally {
      t.close();
    }
    await waitFor('the node-relayed message at the sink', () => sink.messages.some((m) => m.data.toString().includes('<node-relay@example.com>')));
    const got = sink.messages.find((m) => m.data.toString().includes('<node-relay@example.com>'))!;
    expect([got.mailFrom, got.rcptTo]).toEqual([ALICE.address, ['dave@example.net']]);
  });
});
