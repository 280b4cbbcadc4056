import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../helpers/daemon';
import { startTestGateway } from '../../helpers/gateway';
import { startLmtpSink } from '../../helpers/lmtp-sink';
import { command, data, message, openSession } from '../../helpers/smtp-raw';

/**
 * Takeover of a gateway's queue by another on the same shared storage (the
 * hub will decide when, issue 12): the new owner delivers what was queued;
 * the old one, fenced by the higher epoch, acknowledges nothing more and
 * says it is not ready.
 */
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function queueOne(port: number, id: string): Promise<string> {
  const { c } = await openSession(port);
  await command(c, 'MAIL FROM:<bench-sender@example.net>');
  await command(c, 'RCPT TO:<alice@example.com>');
  const { done } = await data(c, message(id));
  c.close();
  return done.line;
}

describe('queue takeover by epoch', () => {
  it('gateway B takes over A’s folder and delivers it; A is fenced: 451 and not ready', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mf-takeover-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const sink = await startLmtpSink();
    cleanup.push(() => sink.stop());
    // A's node is down: what A accepts stays in A's folder.
    const a = await startTestGateway({ dir, lmtpPort: await freePort(), config: { queue: { retryFirstSeconds: 3600 } } });
    cleanup.push(() => a.dispose());
    for (let i = 0; i < 3; i++) expect(await queueOne(a.smtpPort, `via-a-${i}`)).toMatch(/^250 /);
    await a.runner.idle();
    expect((await a.queue.ids()).length).toBe(3);

    const b = await startTestGateway({ dir, lmtpPort: sink.port, config: { memberId: 'test-gateway-1' } });
    cleanup.push(() => b.dispose());
    expect(await b.takeOver('test-gateway-0')).toBe(3);
    await sink.waitFor(3);
    await b.runner.idle();
    expect([...sink.counts().keys()].sort()).toEqual(['<via-a-0@example.net>', '<via-a-1@example.net>', '<via-a-2@example.net>']);

    // A acknowledges nothing more: its queue write is refused after the fsync, before the 250.
    expect(await queueOne(a.smtpPort, 'too-late')).toBe('451 4.3.0 queue unavailable, try again later');
    const ready = await fetch(`http://127.0.0.1:${a.healthPort}/readyz`);
    expect(ready.status).toBe(503);
    expect(sink.counts().has('<too-late@example.net>')).toBe(false);
  });
});
