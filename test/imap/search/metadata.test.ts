import { describe, expect, it } from 'vitest';
import { CommandReader, type ImapValue } from '../../../mail-runtime/imap/protocol';
import { decideOnMetadata, parseSearch, type SearchKey, type SearchMessage } from '../../../mail-runtime/imap/search';
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

const msg = (seq: number, flags: string[] = []): SearchMessage => ({
  seq,
  uid: seq,
  flags,
  internalDate: new Date('2024-01-01T00:00:00Z'),
  size: 100,
  modseq: 1n,
  recent: false,
  summary: () => {
    throw new Error('metadata decisions must not load the summary');
  },
  raw: () => Promise.reject(new Error('must not read the body')),
});
const ctx = { messageCount: 10, maxUid: 10 };

// What a server may decide without loading any cached summary.
describe('decideOnMetadata', () => {
  const cases: Array<[string, number, string[], boolean | null]> = [
    ['9:10 FROM alice', 3, [], false], // the sequence set rules it out
    ['9:10 FROM alice', 9, [], null], // header needed
    ['SEEN BODY x', 1, [], false],
    ['OR SEEN FROM a', 1, ['\\Seen'], true],
    ['OR SEEN FROM a', 1, [], null],
    ['NOT FROM a', 1, [], null],
    ['UNSEEN LARGER 50', 1, [], true],
    ['SENTBEFORE 1-Jan-2020 DELETED', 1, [], false],
  ];
  it.each(cases)('%s on #%i %j → %s', (line, seq, flags, expected) => {
    // msg() throws if its summary or body is touched: decideOnMetadata must not.
    const r = decideOnMetadata(key(line), msg(seq, flags), ctx);
    expect(r).toBe(expected);
  });
});
