/**
 * SEARCH bounds (issue 9): one UID SEARCH with 16,000 × `1:*` on a
 * 3,000-message folder blocked a node for 13 s. The parser refuses inputs
 * over the limits with NO [LIMIT] (RFC 5530 §3) rather than BAD, and the
 * evaluator counts its work so the command can be stopped and paced.
 */
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../../mail-runtime/common/limits';
import { CommandReader, type ImapValue } from '../../../mail-runtime/imap/protocol';
import { parseSearch, SearchEvaluator, SearchWorkExceeded, type SearchMessage, type SearchParseResult } from '../../../mail-runtime/imap/search';
import { analyzeMessage } from '../../../mail-runtime/imap/message';
import { TEST_LITERAL_BYTES } from '../../helpers/imap';

function parse(line: string | Buffer): SearchParseResult {
  const r = new CommandReader({ maxLiteralBytes: TEST_LITERAL_BYTES });
  r.push(Buffer.concat([Buffer.from('t SEARCH '), Buffer.isBuffer(line) ? line : Buffer.from(line), Buffer.from('\r\n')]));
  const ev = r.drain().find((e) => e.type !== 'continue');
  if (ev?.type !== 'command') throw new Error(JSON.stringify(ev));
  return parseSearch(ev.command.args as readonly ImapValue[]);
}

const keys = (n: number, key = '1:*'): string => Array.from({ length: n }, () => key).join(' ');

describe('SEARCH parse limits (RFC 5530 LIMIT)', () => {
  const rows: Array<[string, string, SearchParseResult | { ok: true }]> = [
    [`${LIMITS.imapSearchKeys} keys`, keys(LIMITS.imapSearchKeys), { ok: true }],
    [`${LIMITS.imapSearchKeys + 1} keys`, keys(LIMITS.imapSearchKeys + 1), { ok: false, error: `More than ${LIMITS.imapSearchKeys} search keys`, limit: true }],
    ['16,000 × 1:* (the finding)', keys(16_000), { ok: false, error: `More than ${LIMITS.imapSearchKeys} search keys`, limit: true }],
    ['keys inside parentheses count', `(${keys(LIMITS.imapSearchKeys)})`, { ok: false, error: `More than ${LIMITS.imapSearchKeys} search keys`, limit: true }],
    [`NOT nested ${LIMITS.imapSearchDepth} deep`, `${'NOT '.repeat(LIMITS.imapSearchDepth)}ALL`, { ok: true }],
    [
      `NOT nested ${LIMITS.imapSearchDepth + 1} deep`,
      `${'NOT '.repeat(LIMITS.imapSearchDepth + 1)}ALL`,
      { ok: false, error: `Search criteria nested more than ${LIMITS.imapSearchDepth} deep`, limit: true },
    ],
    [
      'a 2,000-deep OR chain',
      `${'OR '.repeat(2000)}${keys(2001, '1')}`,
      { ok: false, error: `Search criteria nested more than ${LIMITS.imapSearchDepth} deep`, limit: true },
    ],
    [
      `a set of ${LIMITS.imapSequenceSetRanges + 1} ranges`,
      Array.from({ length: LIMITS.imapSequenceSetRanges + 1 }, () => '7').join(','),
      { ok: false, error: `Sequence set has more than ${LIMITS.imapSequenceSetRanges} ranges`, limit: true },
    ],
    [`a set of 10,000 numbers`, Array.from({ length: 10_000 }, (_, i) => i + 1).join(','), { ok: true }],
    [`a string of ${LIMITS.imapStringBytes} octets`, `BODY "${'x'.repeat(LIMITS.imapStringBytes)}"`, { ok: true }],
    [
      `a string of ${LIMITS.imapStringBytes + 1} octets`,
      `BODY "${'x'.repeat(LIMITS.imapStringBytes + 1)}"`,
      { ok: false, error: `BODY string longer than ${LIMITS.imapStringBytes} octets`, limit: true },
    ],
  ];
  it.each(rows)('%s', (_, line, expected) => {
    const r = parse(line);
    if (expected.ok) expect(r.ok, r.ok ? '' : r.error).toBe(true);
    else expect(r).toEqual(expected);
  });
});

function msgs(n: number, raw?: Buffer): SearchMessage[] {
  const summary = raw ? analyzeMessage(raw) : null;
  return Array.from({ length: n }, (_, i) => ({
    seq: i + 1,
    uid: 10 * (i + 1),
    flags: i % 2 ? ['\\Seen'] : [],
    internalDate: new Date('2024-01-01T00:00:00Z'),
    size: raw?.length ?? 100,
    modseq: 1n,
    recent: false,
    summary: () => summary,
    raw: () => (raw ? Promise.resolve(raw) : Promise.reject(new Error('no body'))),
  }));
}

async function run(ev: SearchEvaluator, messages: SearchMessage[]): Promise<number[]> {
  const out: number[] = [];
  for (const m of messages) {
    if (await ev.matches(m)) out.push(m.seq);
    ev.checkBudget();
  }
  return out;
}

function key(line: string) {
  const r = parse(line);
  if (!r.ok) throw new Error(r.error);
  return r.value.key;
}

describe('SearchEvaluator work', () => {
  it('a big set costs one unit per key and message, whatever its size', async () => {
    const many = new SearchEvaluator(key(Array.from({ length: 10_000 }, (_, i) => 2 * i + 1).join(',')), { messageCount: 300, maxUid: 3000 });
    expect(await run(many, msgs(300))).toEqual(Array.from({ length: 150 }, (_, i) => 2 * i + 1));
    expect(many.units).toBe(300);
  });

  it('stops with SearchWorkExceeded once over its budget', async () => {
    const ev = new SearchEvaluator(key(keys(100)), { messageCount: 300, maxUid: 3000 }, { maxUnits: 100 * 50 });
    await expect(run(ev, msgs(300))).rejects.toBeInstanceOf(SearchWorkExceeded);
    expect(ev.units).toBeLessThanOrEqual(100 * 51 + 1);
  });

  it('decodes a header field once for all its keys, and asks the pacer between scans', async () => {
    const raw = Buffer.from('From: =?utf-8?q?J=C3=B6rg?= <j@example.org>\r\nSubject: hello\r\n\r\nbody text\r\n');
    let asked = 0;
    let paused = 0;
    const pacer = {
      due: () => {
        asked++;
        return true;
      },
      pause: async () => {
        paused++;
      },
    };
    const ev = new SearchEvaluator(key('FROM jörg FROM example FROM nobody'), { messageCount: 1, maxUid: 10 }, { pacer });
    expect(await run(ev, msgs(1, raw))).toEqual([]);
    // One decode of From plus three scans.
    expect([asked, paused]).toEqual([4, 4]);
    const found = new SearchEvaluator(key('FROM jörg BODY "body text"'), { messageCount: 1, maxUid: 10 }, { pacer });
    expect(await run(found, msgs(1, raw))).toEqual([1]);
  });
});
