import { createServer, connect, type Server, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gatewayConfig, spawnGateway, startTestGateway, writeGatewayUsers } from '../../helpers/gateway';
import { startTestNode } from '../../helpers/node';
import { imapMessages } from '../../helpers/smtp';
import { command, data, message, openSession } from '../../helpers/smtp-raw';
import { ALICE } from '../../helpers/users';

/**
 * The takeover window (issue 12) and the forced switch of a pair (issue 13):
 * a gateway delivered a message into the mailbox (the node wrote it and
 * answered 250) and died — kill -9 — before it recorded the entry as
 * delivered. The gateway that takes its queue folder over delivers the entry
 * again, with the same queue id (X-Mailfleet-Delivery-Id); the node answers
 * 250 without writing a second copy, and the queue entry is done.
 *
 * The window is made without a fault hook in the product: an LMTP relay
 * between gateway A and the node passes everything through but holds back
 * what the node says after the message's final "." — so the node has
 * stored it and A never hears so — and the test kills A the moment the
 * node's 250 reaches the relay.
 */
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
});

interface HoldingRelay {
  port: number;
  /** Resolves with the node's first reply line after a message's final ".", which the client never gets. */
  heldReply: Promise<string>;
  close(): Promise<void>;
}

async function holdingRelay(target: number): Promise<HoldingRelay> {
  const sockets = new Set<Socket>();
  let announce!: (line: string) => void;
  const heldReply = new Promise<string>((r) => (announce = r));
  const server: Server = createServer((client) => {
    const node = connect(target, '127.0.0.1');
    sockets.add(client).add(node);
    let sent = '';
    let holding = false;
    let held = '';
    client.on('data', (d: Buffer) => {
      // Only the tail matters: has the client ended a message (RFC 5321 §4.1.1.4 "<CRLF>.<CRLF>")?
      sent = (sent + d.toString('latin1')).slice(-5);
      if (sent.endsWith('\r\n.\r\n')) holding = true;
      node.write(d);
    });
    node.on('data', (d: Buffer) => {
      if (!holding) {
        client.write(d);
        return;
      }
      held += d.toString('latin1');
      const line = held.split('\r\n')[0];
      if (held.includes('\r\n') && line !== undefined) announce(line);
    });
    const end = (): void => {
      client.destroy();
      node.destroy();
    };
    client.on('error', end).on('close', end);
    node.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    heldReply,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('a repeat after the takeover window', () => {
  it('gateway A is killed -9 after the node stored its message and before A recorded it; B takes over: one copy, entry done', { timeout: 180_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mf-takeover-repeat-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const node = await startTestNode();
    cleanup.push(() => node.dispose());
    const relay = await holdingRelay(node.lmtpPort);
    cleanup.push(() => relay.close());

    await writeGatewayUsers(join(dir, 'users.yaml'));
    // A retries late (an hour): whatever happens after the kill is B's doing.
    const a = await spawnGateway(dir, gatewayConfig(dir, relay.port, { queue: { retryFirstSeconds: 3600 } }));
    cleanup.push(() => a.kill());
    const { c } = await openSession(a.smtpPort);
    await command(c, 'MAIL FROM:<bench-sender@example.net>');
    await command(c, `RCPT TO:<${ALICE.address}>`);
    const { done } = await data(c, message('window-1'));
    c.close();
    expect(done.line).toMatch(/^250 /);

    // The node has the message; A does not know it yet, and never will.
    expect(await relay.heldReply).toMatch(/^250 2\.0\.0 <alice@example\.com> delivered/);
    await a.kill();
    const stored = await imapMessages(node.imapPort, ALICE);
    expect(stored.filter((m) => m.includes('<window-1@example.net>'))).toHaveLength(1);

    const b = await startTestGateway({ dir, lmtpPort: node.lmtpPort, config: { memberId: 'test-gateway-1' } });
    cleanup.push(() => b.dispose());
    expect(await b.takeOver('test-gateway-0')).toBe(1);
    // Bounded wait for B to record the entry as delivered (its queue empties).
    const deadline = Date.now() + 60_000;
    while ((await b.runner.idle(), b.runner.size > 0)) {
      if (Date.now() > deadline) throw new Error('B never finished the taken-over entry');
      await new Promise((r) => setTimeout(r, 100));
    }
    const after = await imapMessages(node.imapPort, ALICE);
    expect(after.filter((m) => m.includes('<window-1@example.net>'))).toHaveLength(1);
    expect(after).toHaveLength(1);
  });
});
