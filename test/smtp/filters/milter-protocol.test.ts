import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { milterFilter, runFilters, type MilterFilterOptions } from '../../../mail-runtime/smtp/filters';
import { freePort } from '../../helpers/daemon';
import { indexed, nul, optnegReply, packet, politeMilter, startFakeMilter, type FakeMilter, type Script } from '../../helpers/fake-milter';
import { dataContext } from './fakes';

/**
 * The milter client against a scripted peer: the faults a real milter
 * shows only when it breaks (silence, garbage, resets, protocol
 * violations), each of which must end in the configured onError and never
 * in a hang; and the replies and options rspamd (milter-rspamd.test.ts)
 * does not use, checked byte by byte where the wire format matters.
 */
const message = [
  'From: sender@example.net',
  'To: alice@example.test',
  'Subject: folded',
  '  subject line',
  'Message-ID: <m1@example.net>',
  '',
  'line one',
  'line two',
  '',
].join('\r\n');

let fake: FakeMilter | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function run(script: Script, over: Partial<MilterFilterOptions> = {}, opts: { unixPath?: string; message?: string } = {}) {
  fake = await startFakeMilter(script, opts);
  const filter = milterFilter({ name: 'fake', address: fake.address, hostname: 'mx.example.test', timeoutMs: 10_000, onError: 'tempfail', ...over });
  const r = await runFilters([filter], dataContext(opts.message ?? message, { envelope: { mailFrom: 'sender@example.net', rcptTo: ['alice@example.test', 'bob@example.test'] } }));
  // The client quits and lets the connection go whatever happened; what it sent is complete then.
  await fake.closed();
  return r;
}

const cmds = (f: FakeMilter) => f.connections[0]!.map((r) => r.cmd).join('');

describe('faults: every one ends in onError, never in a hang', () => {
  it.each([
    ['silent after the option negotiation', politeMilter(0x31, 0, (cmd) => (cmd === 'C' ? { hang: true } : undefined))],
    ['silent at end of body', politeMilter(0x31, 0, (cmd) => (cmd === 'E' ? { hang: true } : undefined))],
    ['never negotiates', () => ({ hang: true })],
  ] as [string, Script][])('%s: 451 4.7.1 naming the milter when fail-closed, and the connection is dropped', async (_, script) => {
    const r = await run(script, { timeoutMs: 300 });
    expect(r.verdict).toEqual({ kind: 'tempfail', reply: { code: 451, enhanced: '4.7.1', text: expect.stringContaining('data.milter.fake') } });
    expect(r.notes['data.milter.fake.error']).toBe('timeout');
    await fake!.closed();
  });

  it('silent, fail-open: the message goes on unfiltered, noted', async () => {
    const r = await run(politeMilter(0x31, 0, (cmd) => (cmd === 'E' ? { hang: true } : undefined)), { timeoutMs: 300, onError: 'accept' });
    expect(r.verdict).toEqual({ kind: 'continue' });
    expect(r.headers).toEqual([]);
    expect(r.notes).toMatchObject({ 'data.milter.fake.error': 'timeout', 'data.milter.fake.skipped': true });
  });

  it.each([
    ['an HTTP answer instead of a negotiation', () => ({ raw: Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n') })],
    ['a packet of length 0', politeMilter(0x31, 0, (cmd) => (cmd === 'C' ? { raw: Buffer.from([0, 0, 0, 0]) } : undefined))],
    ['a packet longer than any milter sends', politeMilter(0x31, 0, (cmd) => (cmd === 'C' ? { raw: Buffer.from([0x7f, 0, 0, 0, 0x63]) } : undefined))],
    ['an unknown reply', politeMilter(0x31, 0, (cmd) => (cmd === 'M' ? [packet('Z')] : undefined))],
    ['a negotiation with a wrong command', () => [packet('c')]],
    ['protocol version 1', (cmd: string) => (cmd === 'O' ? [optnegReply(1, 0, 0)] : undefined)],
    ['the connection reset after negotiating', politeMilter(0x31, 0, (cmd) => (cmd === 'C' ? { reset: true } : undefined))],
    ['the connection reset mid-body', politeMilter(0x31, 0, (cmd) => (cmd === 'B' ? { reset: true } : undefined))],
    ['a header added before end of body', politeMilter(0x31, 0, (cmd) => (cmd === 'R' ? [packet('h', nul('X-Early', 'no'))] : undefined))],
    ['a recipient added (not offered)', politeMilter(0xff, 0, (cmd) => (cmd === 'E' ? [packet('+', nul('<mallory@example.org>')), packet('a')] : undefined))],
    ['the body replaced (not offered)', politeMilter(0xff, 0, (cmd) => (cmd === 'E' ? [packet('b', 'new body'), packet('a')] : undefined))],
    ['a header name with a colon', politeMilter(0x31, 0, (cmd) => (cmd === 'E' ? [packet('h', nul('X:Bad', 'v')), packet('a')] : undefined))],
    ['a REPLYCODE that is not 4xx/5xx', politeMilter(0x31, 0, (cmd) => (cmd === 'E' ? [packet('y', nul('250 ok'))] : undefined))],
    ['an unterminated string', politeMilter(0x31, 0, (cmd) => (cmd === 'E' ? [packet('h', 'X-A\0no-nul')] : undefined))],
  ] as [string, Script][])('%s: an error, 451 4.7.1', async (_, script) => {
    const r = await run(script);
    expect(r.verdict).toMatchObject({ kind: 'tempfail', reply: { code: 451, enhanced: '4.7.1' } });
    expect(r.notes['data.milter.fake.error']).toBe('error');
  });

  it('nothing listens: 451, or unfiltered when fail-open', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const filter = (onError: 'tempfail' | 'accept') => milterFilter({ name: 'gone', address, hostname: 'mx.example.test', timeoutMs: 10_000, onError });
    expect((await runFilters([filter('tempfail')], dataContext(message))).verdict).toMatchObject({ kind: 'tempfail', reply: { code: 451 } });
    expect((await runFilters([filter('accept')], dataContext(message))).verdict).toEqual({ kind: 'continue' });
  });
});

describe('replies (the milter decides)', () => {
  it('SMFIR_REJECT for one recipient refuses the message (one reply at DATA for all): 550 5.7.1', async () => {
    const r = await run(politeMilter(0x31, 0, (cmd, data) => (cmd === 'R' && data.toString().includes('bob') ? [packet('r')] : undefined)));
    expect(r.verdict).toEqual({ kind: 'reject', reply: { code: 550, enhanced: '5.7.1', text: 'message refused by milter fake' } });
    expect(r.notes['data.milter.fake.step']).toBe('rcpt');
    expect(cmds(fake!)).not.toContain('L'); // nothing more was sent
  });

  it('SMFIR_TEMPFAIL: 451 4.7.1', async () => {
    const r = await run(politeMilter(0x31, 0, (cmd) => (cmd === 'M' ? [packet('t')] : undefined)));
    expect(r.verdict).toMatchObject({ kind: 'tempfail', reply: { code: 451, enhanced: '4.7.1' } });
  });

  it.each([
    ['451 4.7.0 greylisted, come back later', { kind: 'tempfail', reply: { code: 451, enhanced: '4.7.0', text: 'greylisted, come back later' } }],
    ['554 5.7.1 Virus found: Eicar', { kind: 'reject', reply: { code: 554, enhanced: '5.7.1', text: 'Virus found: Eicar' } }],
    ['550 no enhanced code\r\nBcc: injected', { kind: 'reject', reply: { code: 550, enhanced: '5.7.1', text: 'no enhanced code Bcc: injected' } }],
  ])('SMFIR_REPLYCODE %j: that reply, on one line', async (line, verdict) => {
    const r = await run(politeMilter(0x31, 0, (cmd) => (cmd === 'E' ? [packet('y', nul(line))] : undefined)));
    expect(r.verdict).toEqual(verdict);
  });

  it('SMFIR_DISCARD: discard, with the reason for the log', async () => {
    const r = await run(politeMilter(0x31, 0, (cmd) => (cmd === 'E' ? [packet('d')] : undefined)));
    expect(r.verdict).toEqual({ kind: 'discard', reason: expect.stringContaining('milter fake') });
  });

  it('SMFIR_ACCEPT at connect: accepted without further inspection, nothing else sent', async () => {
    const r = await run(politeMilter(0x31, 0, (cmd) => (cmd === 'C' ? [packet('a')] : undefined)));
    expect(r.verdict).toEqual({ kind: 'continue' });
    expect(cmds(fake!)).toBe('ODCQ');
  });

  it('SMFIR_PROGRESS keeps the conversation alive until the real reply', async () => {
    const r = await run(politeMilter(0x31, 0, (cmd) => (cmd === 'E' ? [packet('p'), packet('p'), packet('y', nul('550 5.7.1 no'))] : undefined)));
    expect(r.verdict).toMatchObject({ kind: 'reject', reply: { code: 550 } });
  });
});

describe('modifications at end of body', () => {
  it('ADDHEADER, INSHEADER, CHGHEADER (and its delete), QUARANTINE → header edits and Junk', async () => {
    const r = await run(
      politeMilter(0x31, 0, (cmd) =>
        cmd === 'E'
          ? [
              packet('h', nul('X-Scanned', 'yes,\n\tfolded')),
              packet('i', indexed(0, 'Authentication-Results', 'mx.example.test; dkim=none')),
              packet('m', indexed(1, 'Subject', 'rewritten')),
              packet('m', indexed(2, 'Received', '')),
              packet('m', indexed(0, 'X-Zero', 'first')),
              packet('q', nul('looks like phishing')),
              packet('c'),
            ]
          : undefined,
      ),
    );
    expect(r.verdict).toEqual({ kind: 'continue' });
    expect(r.headers).toEqual([
      { op: 'add', name: 'X-Scanned', value: 'yes,\r\n\tfolded' },
      { op: 'add', name: 'Authentication-Results', value: 'mx.example.test; dkim=none', index: 0 },
      { op: 'change', name: 'Subject', occurrence: 1, value: 'rewritten' },
      { op: 'change', name: 'Received', occurrence: 2, value: null },
      { op: 'change', name: 'X-Zero', occurrence: 1, value: 'first' },
    ]);
    expect(r.folder).toBe('junk');
    expect(r.notes['data.milter.fake.quarantine']).toBe('looks like phishing');
  });

  it('a UTF-8 header value (RFC 6532) arrives as its text', async () => {
    const value = Buffer.concat([Buffer.from('X-Note\0', 'latin1'), Buffer.from('Grüße aus Köln\0', 'utf8')]);
    const r = await run(politeMilter(0x31, 0, (cmd) => (cmd === 'E' ? [packet('h', value), packet('a')] : undefined)));
    expect(r.headers).toEqual([{ op: 'add', name: 'X-Note', value: 'Grüße aus Köln' }]);
  });

  it('a milter refusing after asking for changes: the changes are dropped with the message', async () => {
    const r = await run(politeMilter(0x31, 0, (cmd) => (cmd === 'E' ? [packet('h', nul('X-A', '1')), packet('r')] : undefined)));
    expect(r.verdict.kind).toBe('reject');
    expect(r.headers).toEqual([]);
  });

  it('only what it negotiated: a milter that took ADDHDRS alone may not change headers', async () => {
    const r = await run(politeMilter(0x01, 0, (cmd) => (cmd === 'E' ? [packet('m', indexed(1, 'Subject', 'x')), packet('a')] : undefined)));
    expect(r.verdict).toMatchObject({ kind: 'tempfail' });
  });
});

describe('what goes over the wire', () => {
  it('the negotiation offers v6, header and quarantine actions only, and the steps we support', async () => {
    await run(politeMilter());
    const optneg = fake!.connections[0]![0]!;
    expect(optneg.cmd).toBe('O');
    expect(optneg.data.readUInt32BE(0)).toBe(6);
    expect(optneg.data.readUInt32BE(4)).toBe(0x01 | 0x10 | 0x20);
    expect(optneg.data.readUInt32BE(8)).toBe(0x1ff7ff);
  });

  it('the transaction in order, with macros, header values without the leading space and LF-folded, body with CRLF', async () => {
    await run(politeMilter());
    const seen = fake!.connections[0]!;
    expect(seen.map((r) => r.cmd).join('')).toBe('ODCDHDMDRDRDTLLLLNBDEQ');
    const strings = (d: Buffer) => d.toString('latin1').split('\0').slice(0, -1);
    const connectMacros = strings(seen[1]!.data.subarray(1));
    expect(seen[1]!.data.subarray(0, 1).toString()).toBe('C');
    expect(connectMacros).toEqual(expect.arrayContaining(['j', 'mx.example.test', '{client_addr}', '192.0.2.10']));
    const connect = seen[2]!.data;
    expect(connect.toString('latin1')).toBe('[192.0.2.10]\x004' + '\x9c\x40' + '192.0.2.10\0');
    expect(strings(seen[6]!.data)).toEqual(['<sender@example.net>']);
    expect(strings(seen[8]!.data)).toEqual(['<alice@example.test>']);
    expect(strings(seen[10]!.data)).toEqual(['<bob@example.test>']);
    const headers = seen.filter((r) => r.cmd === 'L').map((r) => strings(r.data));
    expect(headers).toEqual([
      ['From', 'sender@example.net'],
      ['To', 'alice@example.test'],
      ['Subject', 'folded\n  subject line'],
      ['Message-ID', '<m1@example.net>'],
    ]);
    expect(seen.find((r) => r.cmd === 'B')!.data.toString()).toBe('line one\r\nline two\r\n');
  });

  it('with SMFIP_HDR_LEADSPC the values keep their leading space', async () => {
    await run(politeMilter(0x31, 0x100000));
    const first = fake!.connections[0]!.find((r) => r.cmd === 'L')!;
    expect(first.data.toString('latin1')).toBe('From\0 sender@example.net\0');
  });

  it('steps the milter skips are not sent, and with no-reply flags the client does not wait', async () => {
    // NOHELO|NORCPT|NOBODY|NODATA plus NR_CONN|NR_MAIL|NR_HDR|NR_EOH: the fake answers none of those.
    const protocol = 0x02 | 0x08 | 0x10 | 0x200 | 0x1000 | 0x4000 | 0x80 | 0x40000;
    const r = await run(politeMilter(0x31, protocol, (cmd) => (['C', 'M', 'L', 'N'].includes(cmd) ? [] : undefined)), { timeoutMs: 5000 });
    expect(r.verdict).toEqual({ kind: 'continue' });
    expect(cmds(fake!)).toBe('ODCDMLLLLNDEQ');
  });

  it('SMFIR_SKIP during the body: no more body chunks, straight to end of body', async () => {
    const big = `${message}${'z'.repeat(200_000)}\r\n`;
    const r = await run(politeMilter(0x31, 0x400, (cmd) => (cmd === 'B' ? [packet('s')] : undefined)), {}, { message: big });
    expect(r.verdict).toEqual({ kind: 'continue' });
    expect(cmds(fake!).match(/B/g)).toHaveLength(1);
    expect(cmds(fake!)).toMatch(/BDEQ$/);
  });

  it('body chunks are at most 65535 bytes (MILTER_CHUNK_SIZE)', async () => {
    const big = `${message}${'z'.repeat(200_000)}\r\n`;
    await run(politeMilter(), {}, { message: big });
    const chunks = fake!.connections[0]!.filter((r) => r.cmd === 'B');
    expect(chunks.length).toBe(4);
    expect(Math.max(...chunks.map((c) => c.data.length))).toBe(65_535);
  });

  it('over a unix socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-milter-'));
    const r = await run(politeMilter(0x31, 0, (cmd) => (cmd === 'E' ? [packet('h', nul('X-Via', 'unix')), packet('a')] : undefined)), {}, { unixPath: join(dir, 'milter.sock') });
    expect(r.verdict).toEqual({ kind: 'continue' });
    expect(r.headers).toEqual([{ op: 'add', name: 'X-Via', value: 'unix' }]);
  });
});
