/**
 * Our FETCH answers against Dovecot 2.3.19.1's, byte for byte, for the 31
 * messages in test/fixtures/imap-golden (see its README.md). Where RFC 3501
 * allows a different answer and we give one, the case is listed in
 * ALLOWED_DIFFERENCES with the section and the reason, and compared by
 * structure (the golden `value`) instead.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeMessage, renderFetchItem } from '../../../mail-runtime/imap/message';
import { CommandReader, compileValue, parseFetchArgs, type FetchAttribute, type ImapValue } from '../../../mail-runtime/imap/protocol';
import { TEST_LITERAL_BYTES } from '../../helpers/imap';

// In the repository (see its PROVENANCE.md); a missing fixture fails the file, never skips it.
const GOLDEN_DIR = path.resolve(__dirname, '..', '..', 'fixtures', 'imap-golden');

interface GoldenRecord {
  response: { data_utf8?: string; data_b64?: string; item: string; value: unknown };
}
interface GoldenFile {
  message: string;
  eml: { path: string; size: number; sha256: string };
  fetch: Record<string, GoldenRecord>;
}

/**
 * Cases where our bytes differ from Dovecot's and RFC 3501 allows ours.
 * Each: message, item as requested, the RFC 3501 section, why ours is allowed.
 */
const ALLOWED_DIFFERENCES: ReadonlyArray<{ message: string; item: string; rfc: string; why: string }> = [];

function parseItem(item: string): FetchAttribute {
  const r = new CommandReader({ maxLiteralBytes: TEST_LITERAL_BYTES });
  r.push(Buffer.from(`t FETCH 1 (${item})\r\n`));
  const ev = r.next();
  if (ev?.type !== 'command') throw new Error(`cannot parse ${item}`);
  const parsed = parseFetchArgs(ev.command.args.slice(1));
  if (!parsed.ok || parsed.value.attributes.length !== 1) throw new Error(`cannot parse ${item}`);
  return parsed.value.attributes[0];
}

/** Parses our answer back into the golden `value` shape (strings, null, numbers, arrays). */
function toPlain(v: ImapValue): unknown {
  switch (v.type) {
    case 'nil':
      return null;
    case 'number':
      return v.value;
    case 'string':
      return v.bytes.toString('utf8');
    case 'list':
      return v.items.map(toPlain);
    case 'atom':
      return v.value;
  }
}

function ourValue(bytes: Buffer): unknown {
  const r = new CommandReader({ maxLiteralBytes: TEST_LITERAL_BYTES });
  r.push(Buffer.concat([Buffer.from('t X '), bytes, Buffer.from('\r\n')]));
  const events = r.drain().filter((e) => e.type !== 'continue');
  const ev = events[0];
  if (ev?.type !== 'command') throw new Error('our answer does not parse');
  return toPlain(ev.command.args[1]);
}

const files: GoldenFile[] = readdirSync(path.join(GOLDEN_DIR, 'golden'))
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(path.join(GOLDEN_DIR, 'golden', f), 'utf8')) as GoldenFile);

const stats = { exact: 0, allowed: 0, total: 0 };

describe('golden FETCH answers (Dovecot 2.3.19.1) from test/fixtures/imap-golden', () => {
  it('the fixture is complete and intact: 31 messages, each with the bytes Dovecot was given', () => {
    expect(files).toHaveLength(31);
    // A checkout that rewrote line endings (core.autocrlf) or a truncated copy shows here first.
    const damaged = files.filter((g) => createHash('sha256').update(readFileSync(path.join(GOLDEN_DIR, g.eml.path))).digest('hex') !== g.eml.sha256);
    expect(damaged.map((g) => g.eml.path)).toEqual([]);
  });

  for (const g of files) {
    describe(g.message, () => {
      const raw = readFileSync(path.join(GOLDEN_DIR, g.eml.path));
      const summary = analyzeMessage(raw);
      // The summary is what the store caches: it must survive JSON.
      const cached = JSON.parse(JSON.stringify(summary)) as typeof summary;
      for (const [item, rec] of Object.entries(g.fetch)) {
        it(item, () => {
          stats.total++;
          const attr = parseItem(item);
          const rendered = renderFetchItem(attr, cached, raw);
          expect(rendered).not.toBeNull();
          const [name, value] = rendered!;
          const ours = Buffer.concat([compileValue(name), Buffer.from(' '), compileValue(value)]);
          const theirs = rec.response.data_b64 ? Buffer.from(rec.response.data_b64, 'base64') : Buffer.from(rec.response.data_utf8 ?? '', 'utf8');
          const allowed = ALLOWED_DIFFERENCES.find((d) => d.message === g.message && d.item === item);
          if (allowed) {
            stats.allowed++;
            expect(compileValue(name).toString()).toBe(rec.response.item);
            expect(ourValue(compileValue(value))).toEqual(rec.response.value);
          } else {
            expect(ours.toString('latin1')).toBe(theirs.toString('latin1'));
            stats.exact++;
          }
        });
      }
    });
  }

  it('reports the match count', () => {
    // Printed for the record; the per-item tests above are the assertions.
    console.log(`golden: ${stats.exact} exact, ${stats.allowed} allowed differences, of ${stats.total}`);
    expect(stats.exact + stats.allowed).toBe(stats.total);
  });
});
