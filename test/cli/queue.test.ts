import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main';
import { QueueFolder } from '../../mail-runtime/smtp/queue';
import { DELETED_REPLY } from '../../mail-runtime/smtp/delivery';
import { freePort } from '../helpers/daemon';
import { waitFor } from '../helpers/wait';
import { gatewayConfig, startTestGateway, type TestGateway } from '../helpers/gateway';
import { startLmtpSink } from '../helpers/lmtp-sink';
import { command, data, message, openSession } from '../helpers/smtp-raw';

/**
 * `mailfleet queue list|show|retry|delete` through the CLI's own entry
 * (main(argv, io)), against queue folders on disk — first without a
 * gateway, then beside a running one that applies retry and delete.
 */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['node', 'mailfleet', ...argv], { out: (s) => void (out += s), err: (s) => void (err += s), readSecret: async () => undefined });
  return { code, out, err };
}

const partial = (rcpts: string[]) => ({
  mailFrom: 'bench-sender@example.net',
  recipients: rcpts.map((address) => ({ address, status: 'pending' as const, attempts: 0 })),
  expiresAt: new Date(Date.now() + 3600_000).toISOString(),
  origin: 'mx' as const,
});

describe('reading a queue folder (no gateway needed)', () => {
  let storage: string;
  let ids: string[];
  beforeAll(async () => {
    storage = await mkdtemp(join(tmpdir(), 'mf-cliq-'));
    const q = await QueueFolder.claim({ storagePath: storage, folder: 'demo-gateway-0', memberId: 'demo-gateway-0' });
    ids = [
      await q.enqueue(partial(['alice@example.com', 'bob@example.com']), Buffer.from('Subject: first\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n')),
      await q.enqueue({ ...partial(['carol@example.org']), mailFrom: '' }, Buffer.from('Subject: second\r\n\r\nbody\r\n')),
    ];
  });
  afterAll(() => rm(storage, { recursive: true, force: true }));

  it('list: a table of every message, oldest first', async () => {
    const r = await cli('queue', 'list', '--storage', storage);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+FOLDER\s+AGE\s+SIZE\s+FROM\s+PENDING\s+NEXT\s+LAST REPLY$/);
    expect(lines[1]).toMatch(new RegExp(`^${ids[0]}\\s+demo-gateway-0\\s+\\d+s\\s+\\S+\\s+bench-sender@example\\.net\\s+2/2\\s+now`));
    expect(lines[2]).toMatch(new RegExp(`^${ids[1]}\\s+demo-gateway-0\\s+.*<>\\s+1/1`));
  });

  it('list --json: the entries as stored', async () => {
    const r = await cli('queue', 'list', '--storage', storage, '--json');
    const rows = JSON.parse(r.out) as { folder: string; entry: { id: string } }[];
    expect(rows.map((x) => [x.folder, x.entry.id])).toEqual(ids.map((id) => ['demo-gateway-0', id]));
  });

  it('show: recipients, owner and the message header', async () => {
    const r = await cli('queue', 'show', ids[0]!, '--storage', storage);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`id:         ${ids[0]}`);
    expect(r.out).toContain('folder:     demo-gateway-0 (owner demo-gateway-0, epoch 1)');
    expect(r.out).toMatch(/ {2}alice@example\.com {2}pending {2}attempts=0/);
    expect(r.out).toContain('  Subject: first');
    expect(r.out).not.toContain('body');
  });

  it('--config reads storage.path from a member config', async () => {
    const file = join(storage, 'gw.json');
    await writeFile(file, JSON.stringify(gatewayConfig('/nonexistent', undefined, { storage: { path: storage } })));
    const r = await cli('queue', 'list', '--config', file, '--json');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as unknown[]).length).toBe(2);
  });

  it('bad input: unknown id → 1, nothing written; no storage → 2; delete without --yes → 2', async () => {
    const unknown = await cli('queue', 'retry', ids[0]!, '0000000000000000000', '--storage', storage);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('no queued message 0000000000000000000; nothing changed');
    expect(await readdir(join(storage, 'queue', 'demo-gateway-0', 'control'))).toEqual([]);
    const nowhere = await cli('queue', 'list');
    expect(nowhere.code).toBe(2);
    expect(nowhere.err).toContain('--storage');
    const careful = await cli('queue', 'delete', ids[0]!, '--storage', storage);
    expect(careful.code).toBe(2);
    expect(careful.err).toContain('delete fails 2 pending recipient(s) of 1 message(s) for good, with no DSN to the sender; add --yes');
    expect(await readdir(join(storage, 'queue', 'demo-gateway-0', 'control'))).toEqual([]);
    expect((await cli('queue', 'show', 'nope', '--storage', storage)).code).toBe(1);
  });
});

describe('beside a running gateway: requests are applied by the owner', () => {
  let gw: TestGateway;
  let nodePort: number;
  const dsns: string[] = [];
  beforeAll(async () => {
    nodePort = await freePort();
    // The node is down and the next retry is an hour away: only `queue retry` can make it go sooner.
    gw = await startTestGateway({
      lmtpPort: nodePort,
      config: { queue: { retryFirstSeconds: 3600 } },
      over: { controlPollMs: 100, buildDsn: ({ entry }) => (dsns.push(entry.id), Buffer.from('Subject: dsn\r\n\r\nx\r\n')) },
    });
  });
  afterAll(() => gw?.dispose());

  async function queueOne(id: string): Promise<string> {
    const { c } = await openSession(gw.smtpPort);
    await command(c, 'MAIL FROM:<bench-sender@example.net>');
    await command(c, 'RCPT TO:<alice@example.com>');
    const { done } = await data(c, message(id));
    c.close();
    await gw.runner.idle();
    return /queued as (\S+)/.exec(done.line)![1]!;
  }

  it('retry: delivered now instead of in an hour', async () => {
    const id = await queueOne('retry-me');
    const listed = await cli('queue', 'list', '--storage', join(gw.dir, 'storage'));
    expect(listed.out).toMatch(new RegExp(`${id}.*1/1\\s+in 60m\\s+451 4\\.4\\.1 no answer`));
    const sink = await startLmtpSink({ port: nodePort });
    try {
      const r = await cli('queue', 'retry', id, '--storage', join(gw.dir, 'storage'));
      expect(r.code).toBe(0);
      expect(r.out).toContain('retry requested for 1 message(s)');
      await sink.waitFor(1, 20_000);
      expect(sink.deliveries[0]!.messageId).toBe('<retry-me@example.net>');
    } finally {
      await sink.stop();
    }
  });

  it('delete --yes: the pending recipients fail with no DSN and the message leaves the queue', async () => {
    const id = await queueOne('delete-me');
    const r = await cli('queue', 'delete', id, '--yes', '--storage', join(gw.dir, 'storage'));
    expect(r.code).toBe(0);
    await waitFor(async () => !(await gw.queue.ids()).includes(id), 'the deleted message to leave the queue');
    // The owner removes the request only after applying it (a crash in between re-applies it, harmlessly),
    // so the file outlives the entry by a moment.
    await waitFor(async () => (await readdir(gw.queue.paths.control)).length === 0, 'the applied request to be removed from control/');
    expect(dsns).toEqual([]);
    expect(DELETED_REPLY).toMatch(/no DSN/);
  });
});
