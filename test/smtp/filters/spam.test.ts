import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFilters, spamFilter, type HeaderEdit, type SpamFilterOptions } from '../../../mail-runtime/smtp/filters';
import { freePort } from '../../helpers/daemon';
import { GTUBE, startRspamd, type TestRspamd } from '../../helpers/rspamd';
import { startSpamd, type TestSpamd } from '../../helpers/spamd';
import { dataContext } from './fakes';

/**
 * Spam scoring against the real scanners, started on loopback with local
 * configs: rspamd over its HTTP protocol and SpamAssassin's spamd over
 * SPAMC. GTUBE is refused, a clean message passes with score headers, our
 * thresholds (not the scanner's) decide reject and Junk, and a scanner
 * that is gone or talks nonsense is handled by onError.
 */
const message = (body: string, extraHeaders = '') =>
  `From: sender@example.net\r\nTo: alice@example.test\r\nSubject: hello\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@example.net>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n${extraHeaders}\r\n${body}\r\n`;
const spam = message(`Buy now.\r\n${GTUBE}`);
const clean = message('Shall we meet for lunch at noon on Thursday?');

const added = (headers: HeaderEdit[]) => Object.fromEntries(headers.flatMap((h) => (h.op === 'add' ? [[h.name, h.value]] : [])));

let rspamd: TestRspamd;
let spamd: TestSpamd;
beforeAll(async () => {
  [rspamd, spamd] = await Promise.all([startRspamd(), startSpamd()]);
});
afterAll(async () => {
  await Promise.all([rspamd?.dispose(), spamd?.dispose()]);
});

const options = (kind: 'spamd' | 'rspamd', over: Partial<SpamFilterOptions> = {}): SpamFilterOptions => ({
  kind,
  address: kind === 'rspamd' ? rspamd.http : spamd.address,
  rejectScore: 15,
  junkScore: 5,
  timeoutMs: 30_000,
  onError: 'tempfail',
  hostname: 'mx.example.test',
  ...over,
});

describe.each(['rspamd', 'spamd'] as const)('%s', (kind) => {
  it('GTUBE: 550 5.7.1', async () => {
    const r = await runFilters([spamFilter(options(kind))], dataContext(spam));
    expect(r.verdict).toEqual({ kind: 'reject', reply: { code: 550, enhanced: '5.7.1', text: expect.stringContaining('spam') } });
    expect(r.notes[`data.spam.${kind}.score`]).toBeGreaterThanOrEqual(15);
  });

  it('a clean message passes with score headers', async () => {
    const r = await runFilters([spamFilter(options(kind))], dataContext(clean));
    expect(r.verdict).toEqual({ kind: 'continue' });
    expect(r.folder).toBeUndefined();
    const h = added(r.headers);
    expect(Number(h['X-Spam-Score'])).toBeLessThan(5);
    expect(h['X-Spam-Status']).toMatch(/^No, score=-?\d+\.\d\d required=5\.00 tests=/);
    if (kind === 'rspamd') expect(h['X-Spamd-Result']).toMatch(/^default: False \[-?\d+\.\d\d \/ 15\.00\]/);
  });

  it('our thresholds decide: GTUBE under a reject score above it goes to Junk', async () => {
    const r = await runFilters([spamFilter(options(kind, { rejectScore: 5000 }))], dataContext(spam));
    expect(r.verdict).toEqual({ kind: 'continue' });
    expect(r.folder).toBe('junk');
    const h = added(r.headers);
    expect(h['X-Spam-Flag']).toBe('YES');
    expect(h['X-Spam-Status']).toMatch(/^Yes, score=/);
    expect(h['X-Spam-Status']).toContain('GTUBE');
  });

  it('score headers a sender planted are removed', async () => {
    const planted = message('Shall we meet for lunch?', 'X-Spam-Status: No, score=-100\r\nX-Spam-Score: -100\r\n');
    const r = await runFilters([spamFilter(options(kind))], dataContext(planted));
    expect(r.headers).toEqual(
      expect.arrayContaining([
        { op: 'change', name: 'X-Spam-Status', occurrence: 1, value: null },
        { op: 'change', name: 'X-Spam-Score', occurrence: 1, value: null },
      ]),
    );
  });
});

describe('scanner gone or talking nonsense', () => {
  let nonsense: Server;
  let nonsensePort: number;
  beforeAll(async () => {
    // Answers every request with something that is neither spamd nor HTTP/JSON, then closes.
    nonsense = createServer((s) => {
      s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json!'));
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => nonsense.listen(0, '127.0.0.1', resolve));
    nonsensePort = (nonsense.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => nonsense.close(() => resolve())));

  it.each(['rspamd', 'spamd'] as const)('%s unreachable: 451 4.7.1, or passed unscanned with onError accept', async (kind) => {
    const address = `127.0.0.1:${await freePort()}`;
    const tf = await runFilters([spamFilter(options(kind, { address }))], dataContext(clean));
    expect(tf.verdict).toMatchObject({ kind: 'tempfail', reply: { code: 451, enhanced: '4.7.1', text: expect.stringContaining(`data.spam.${kind}`) } });
    const open = await runFilters([spamFilter(options(kind, { address, onError: 'accept' }))], dataContext(clean));
    expect(open.verdict).toEqual({ kind: 'continue' });
    expect(open.headers).toEqual([]);
  });

  it.each(['rspamd', 'spamd'] as const)('%s answering nonsense is an error, not a score', async (kind) => {
    const r = await runFilters([spamFilter(options(kind, { address: `127.0.0.1:${nonsensePort}` }))], dataContext(clean));
    expect(r.verdict).toMatchObject({ kind: 'tempfail', reply: { code: 451 } });
    expect(r.notes[`data.spam.${kind}.error`]).toBe('error');
  });
});
