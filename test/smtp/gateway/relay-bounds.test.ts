import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type GatewayConfigInput, type TestGateway } from '../../helpers/gateway';
import { LineClient } from '../../helpers/line-client';
import { command, data, message, openSession, readReply } from '../../helpers/smtp-raw';

/**
 * The relay listener's bounds, over raw sockets with exact replies: the
 * shared net/ admission (connections per address), the AUTH failure limit
 * per address across connections (auth/ LoginLimiter, RFC 4954 §6 454),
 * the per-member message rate (`inbound.relayMessagesPerMemberPerMinute`,
 * 451 4.7.1), and the outbound checks of relayed mail: a sender outside
 * the hosted domains (550 5.7.1, RFC 5321 §3.9) and the size limit
 * (552 5.3.4, RFC 1870).
 */
const TOKEN = 'cluster-token-for-bounds-0123456789abcdef';
const plain = (user: string, pass: string): string => Buffer.from(`\0${user}\0${pass}`).toString('base64');
const MAX_BYTES = 4096;

async function gateway(config: Partial<GatewayConfigInput>): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'mf-relay-bounds-'));
  await writeFile(join(dir, 'cluster-token'), TOKEN);
  return startTestGateway({
    dir,
    config: { listen: { smtp: { host: '127.0.0.1', port: 0 }, relay: { host: '127.0.0.1', port: 0 } }, clusterTokenFile: join(dir, 'cluster-token'), ...config },
  });
}

let gw: TestGateway;
let strict: TestGateway;
beforeAll(async () => {
  [gw, strict] = await Promise.all([
    gateway({ limits: { maxMessageBytes: MAX_BYTES }, inbound: { relayMessagesPerMemberPerMinute: 1 } }),
    // Loopback counted like any address (perAddressExempt: []), two failures per address, two connections per address.
    gateway({ limits: { loginFailuresPerAddress: 2, loginFailuresPerConnection: 3, maxConnectionsPerAddress: 2, perAddressExempt: [] } }),
  ]);
}, 60_000);
afterAll(async () => {
  for (const g of [gw, strict]) {
    await g?.dispose();
    if (g) await rm(g.dir, { recursive: true, force: true });
  }
});

describe('relay listener: outbound checks and the per-member rate (one logged-in session)', () => {
  it('table: sender outside the hosted domains, null sender, SIZE, DATA over the size, then the member rate', async () => {
    const { c } = await openSession(gw.relayPort!, 'node.test');
    const rows: [string, RegExp | string][] = [
      [`AUTH PLAIN ${plain('test-node-0', TOKEN)}`, /^235 2\.7\.0 /],
      // RFC 5321 §3.9 / RFC 3463 5.7.1: only our own senders leave through the relay.
      ['MAIL FROM:<mallory@example.net>', '550 5.7.1 <mallory@example.net>: sender is not in a hosted domain, not relayed'],
      ['MAIL FROM:<>', '550 5.7.1 <>: sender is not in a hosted domain, not relayed'],
      // RFC 1870 §6: a declared size over the limit.
      [`MAIL FROM:<alice@example.com> SIZE=${MAX_BYTES + 1}`, /^552 5\.3\.4 /],
      // The member's one message this minute (the refused senders above took none).
      ['MAIL FROM:<alice@example.com>', /^250 /],
      ['RCPT TO:<dave@example.net>', /^250 /],
    ];
    const got: string[] = [];
    for (const [line] of rows) got.push((await command(c, line)).line);
    expect(got).toEqual(rows.map(([, e]) => (typeof e === 'string' ? e : expect.stringMatching(e))));
    // RFC 1870 §6 at DATA: the body over limits.maxMessageBytes is refused whole.
    const big = message('relay-too-big', 'x'.repeat(80).concat('\r\n').repeat(Math.ceil(MAX_BYTES / 82) + 1));
    expect((await data(c, big)).done.line).toBe(`552 5.3.4 message exceeds fixed maximum message size ${MAX_BYTES}`);
    // Over inbound.relayMessagesPerMemberPerMinute (1): temp-fail, the node's client retries.
    expect((await command(c, 'MAIL FROM:<alice@example.com>')).line).toBe('451 4.7.1 member test-node-0 is over its relay message rate, try again later');
    c.close();
  });
});

describe('relay listener: AUTH failures per address and connections per address (net/ admission)', () => {
  it('after limits.loginFailuresPerAddress failures, AUTH is refused 454 4.7.0 without checking, even with the token; the third connection from the address gets 421 4.7.0', async () => {
    const { c } = await openSession(strict.relayPort!, 'node.test');
    const got = [];
    for (const pass of ['guess-1', 'guess-2', TOKEN]) got.push((await command(c, `AUTH PLAIN ${plain('test-node-0', pass)}`)).line);
    expect(got).toEqual([
      '535 5.7.8 authentication credentials invalid',
      '535 5.7.8 authentication credentials invalid',
      '454 4.7.0 too many failed logins from your address, try again later',
    ]);
    // A second connection from the same address: greeted, and refused the same way (the limit is per address, not per connection).
    const second = await openSession(strict.relayPort!, 'node.test');
    expect((await command(second.c, `AUTH PLAIN ${plain('test-node-0', TOKEN)}`)).line).toBe('454 4.7.0 too many failed logins from your address, try again later');
    // Two open from this address: a third is refused at accept (limits.maxConnectionsPerAddress).
    const third = await LineClient.connect(strict.relayPort!);
    expect((await readReply(third)).line).toMatch(/^421 4\.7\.0 .*too many connections from your address/);
    await third.waitClosed();
    c.close();
    second.c.close();
  });
});
