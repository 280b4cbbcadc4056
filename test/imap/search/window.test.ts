import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CommandReader, type ImapValue } from '../../../mail-runtime/imap/protocol';
import { decideOnMetadata, parseSearch, searchWindow, type SearchKey, type SearchMessage } from '../../../mail-runtime/imap/search';
import { TEST_LITERAL_BYTES } from '../../helpers/imap';

function key(line: string): SearchKey {
  const r = new CommandReader({ maxLiteralBytes: TEST_LITERAL_BYTES });
  r.push(Buffer.from(`t SEARCH ${line}\r\n`));
  const ev = r.drain().find((e) => e.type !== 'continue');
  if (ev?.type !== 'command') throw new Error(JSON.stringify(ev));
  const p = parseSearch(ev.command.args as readonly ImapValue[]);
  if (!p.ok) throw new Error(p.error);
  return p.value.key;
}

/** UIDs 10, 20, ..., 10·n: gaps, so sequence numbers and UIDs differ. */
const uidsOf = (n: number): number[] => Array.from({ length: n }, (_, i) => 10 * (i + 1));

const msg = (uids: readonly number[], i: number, seen: boolean): SearchMessage => ({
  seq: i + 1,
  uid: uids[i]!,
  flags: seen ? ['\\Seen'] : [],
  internalDate: new Date('2024-01-01T00:00:00Z'),
  size: 100,
  modseq: 1n,
  recent: false,
  summary: () => null,
  raw: () => Promise.reject(new Error('no body here')),
});

// Which messages SEARCH looks at (findMatches scans only this window).
describe('searchWindow', () => {
  const uids = uidsOf(100); // UIDs 10..1000
  const cases: Array<[string, number, number]> = [
    ['ALL', 0, 100],
    ['UID 901:*', 90, 100], // the bench's "last 10,000" shape
    ['UID *:901', 90, 100], // reversed range: same set (RFC 3501 §9)
    ['UID 5000:*', 99, 100], // n:* with n past the last UID still names the last message (RFC 3501 §6.4.8)
    ['UID 15:35', 1, 3], // UIDs 20, 30
    ['UID 15:19', 0, 0], // no UID in the range: nothing to look at
    ['91:*', 90, 100],
    ['5,7:8 SEEN', 4, 8],
    ['UID 1:500 50:60', 49, 50], // AND of both sets: UIDs ≤ 500 are seq ≤ 50
    ['UID 1:100 90:*', 0, 0], // disjoint
    ['OR UID 1:10 UID 990:1000', 0, 100], // OR never narrows
    ['NOT UID 1:500', 0, 100], // NOT never narrows
    ['UID $', 0, 100], // the saved result is not a range
  ];
  it.each(cases)('%s → [%i, %i)', (line, from, to) => {
    expect(searchWindow(key(line), uids)).toEqual({ from, to });
  });

  it('an empty mailbox has an empty window', () => {
    expect(searchWindow(key('UID 1:*'), [])).toEqual({ from: 0, to: 0 });
  });

  // The window only skips messages the key could never match.
  it('every message outside the window fails the key (property)', () => {
    const num = fc.integer({ min: 1, max: 1200 });
    const setText = fc.array(fc.oneof(num.map(String), fc.tuple(fc.oneof(num.map(String), fc.constant('*')), fc.oneof(num.map(String), fc.constant('*'))).map(([a, b]) => `${a}:${b}`)), { minLength: 1, maxLength: 4 }).map((xs) => xs.join(','));
    const atomKey = fc.oneof(
      setText.map((s) => `UID ${s}`),
      setText.map((s) => s),
      fc.constantFrom('SEEN', 'UNSEEN', 'ALL'),
    );
    const line = fc.array(atomKey, { minLength: 1, maxLength: 3 }).chain((keys) => fc.oneof(fc.constant(keys.join(' ')), fc.constant(`OR ${keys[0]} ${keys[0]}`), fc.constant(`NOT ${keys[0]}`)));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 120 }), line, (n, text) => {
        const uids = uidsOf(n);
        const k = key(text);
        const w = searchWindow(k, uids);
        const ctx = { messageCount: n, maxUid: n ? uids[n - 1]! : 0 };
        for (let i = 0; i < n; i++) {
          if (i >= w.from && i < w.to) continue;
          expect(decideOnMetadata(k, msg(uids, i, i % 3 === 0), ctx)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });
});
