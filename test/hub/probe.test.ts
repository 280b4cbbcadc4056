import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/daemon';
import { processGone } from '../../mail-runtime/hub/membership/probe';

/**
 * The hub's "process gone" judgement after a stream drop, against real
 * loopback listeners: a dying process may still hold its listening sockets
 * for a moment after its stream closed, so one answering probe is not the
 * last word — but a port that keeps answering is never declared gone.
 */
const servers: Server[] = [];

async function listen(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.destroy());
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r()))));
});

describe('processGone', () => {
  it('is true at once when every port refuses', async () => {
    expect(await processGone('127.0.0.1', [await freePort(), await freePort()], () => true, [])).toBe(true);
  });

  it('is false with no ports to ask', async () => {
    expect(await processGone('127.0.0.1', [])).toBe(false);
  });

  it('is true when the listeners close a moment after the first probe (a process still exiting)', async () => {
    const a = await listen();
    const gone = await freePort();
    setTimeout(() => a.server.close(), 150);
    expect(await processGone('127.0.0.1', [a.port, gone], () => true, [100, 250])).toBe(true);
  });

  it('is false while one port keeps answering, after every retry', async () => {
    const a = await listen();
    expect(await processGone('127.0.0.1', [a.port, await freePort()], () => true, [50, 50])).toBe(false);
  });

  it('stops probing once the member has reconnected its stream', async () => {
    const a = await listen();
    let asked = 0;
    setTimeout(() => a.server.close(), 150);
    // Reconnected before the listener closes: no longer a question of death.
    expect(await processGone('127.0.0.1', [a.port], () => ++asked < 1, [100, 250])).toBe(false);
    expect(asked).toBe(1);
  });
});
