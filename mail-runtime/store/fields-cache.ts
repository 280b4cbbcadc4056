import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { isErrno } from './fsutil';
import type { SearchFieldsDeriver } from './types';

/**
 * `<maildir>/mailfleet/search-fields.bin`: per message (by Maildir base,
 * unique forever, so an entry can never describe another message) the few
 * short strings a deriver supplied by the caller makes of its summary —
 * for the IMAP node, the decoded and case-folded Subject and address
 * fields that SEARCH SUBJECT/FROM/TO/CC/BCC compare (imap/search/fields.ts).
 * A header search over 100,000 messages then compares strings in memory
 * instead of reading and JSON-parsing 100,000 full summaries and decoding
 * each header again.
 *
 * Derived data, like index.bin: records are made when a message is
 * appended (its summary is computed then anyway) or when a search first
 * needs them, kept in memory while the folder is open (loaded on first
 * use, not at SELECT) and written at a clean close (temp name + rename, no
 * fsync: a torn file fails its checksum). A file of another format, of
 * another deriver version, with a wrong checksum or contents that do not
 * parse is ignored whole; a message without a record is answered from its
 * summary as before. So a stale or damaged file costs time, never a wrong
 * answer.
 *
 * Layout: "MFSF", u32 format, u32 CRC-32 of the rest, then UTF-8 JSON
 * `{ "deriver": string, "records": [[base, ...strings], ...] }`.
 */
export const FIELDS_FILE = 'search-fields.bin';
/** Temp files of an interrupted write (removed when the folder opens). */
export const FIELDS_TMP_RE = /^\.search-fields\.bin\.\d+\.tmp$/;
const MAGIC = 0x4653464d; // "MFSF" read as u32 LE
const FORMAT = 1;
const HEAD = 12;

export class FieldsCache {
  /** Records by base; null until the file was read (records noted before that wait in `pending`). */
  private records: Map<string, readonly string[]> | null = null;
  private pending = new Map<string, readonly string[]>();
  private loading: Promise<Map<string, readonly string[]>> | null = null;
  /** Something changed since the file was read or written. */
  private dirty = false;

  constructor(
    private file: string,
    private readonly deriver: SearchFieldsDeriver,
  ) {}

  /** The folder directory moved (rename): follow it. */
  relocate(metaDir: string): void {
    this.file = path.join(metaDir, FIELDS_FILE);
  }

  /** Derives and remembers the record of one message from its summary (a deriver that throws or declines leaves none). */
  note(base: string, summary: unknown): readonly string[] | null {
    let rec: readonly string[] | null;
    try {
      rec = this.deriver.derive(summary);
    } catch {
      rec = null;
    }
    if (!rec) return null;
    (this.records ?? this.pending).set(base, rec);
    this.dirty = true;
    return rec;
  }

  /** The messages of these bases are gone (expunged). */
  forget(bases: readonly string[]): void {
    const map = this.records ?? this.pending;
    for (const b of bases) if (map.delete(b)) this.dirty = true;
    // Not loaded yet: the file may hold them; the next write keeps live bases only.
    if (!this.records && bases.length > 0) this.dirty = true;
  }

  /** All records, the file read on first use. */
  load(): Promise<ReadonlyMap<string, readonly string[]>> {
    if (this.records) return Promise.resolve(this.records);
    this.loading ??= (async () => {
      const fromFile = await readFieldsFile(this.file, this.deriver.version);
      const map = fromFile ?? new Map<string, readonly string[]>();
      for (const [b, r] of this.pending) map.set(b, r);
      this.pending = new Map();
      this.records = map;
      this.loading = null;
      return map;
    })();
    return this.loading;
  }

  /**
   * Writes the file if anything changed, keeping the records of `live`
   * bases only (expunged messages drop out). Best effort: callers ignore
   * failures.
   */
  async write(live: ReadonlySet<string>): Promise<void> {
    if (!this.dirty) return;
    const records = await this.load();
    const out: string[][] = [];
    for (const [base, rec] of records) if (live.has(base)) out.push([base, ...rec]);
    const json = Buffer.from(JSON.stringify({ deriver: this.deriver.version, records: out }), 'utf8');
    const buf = Buffer.alloc(HEAD + json.length);
    buf.writeUInt32LE(MAGIC, 0);
    buf.writeUInt32LE(FORMAT, 4);
    json.copy(buf, HEAD);
    buf.writeUInt32LE(crc32(buf.subarray(HEAD)), 8);
    const dir = path.dirname(this.file);
    const tmp = path.join(dir, `.${FIELDS_FILE}.${process.pid}.tmp`);
    await fs.promises.writeFile(tmp, buf, { mode: 0o600 });
    await fs.promises.rename(tmp, this.file);
    this.dirty = false;
  }
}

/** The records of a fields file, or null when it is absent, damaged or of another format or deriver version. */
async function readFieldsFile(file: string, deriverVersion: string): Promise<Map<string, readonly string[]> | null> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return null;
    return null;
  }
  if (buf.length < HEAD || buf.readUInt32LE(0) !== MAGIC || buf.readUInt32LE(4) !== FORMAT) return null;
  if (crc32(buf.subarray(HEAD)) !== buf.readUInt32LE(8)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.toString('utf8', HEAD));
  } catch {
    return null;
  }
  // Checked by hand rather than with a schema: 100,000 records, and this is on the first header search's path.
  if (typeof parsed !== 'object' || parsed === null) return null;
  const { deriver, records } = parsed as { deriver?: unknown; records?: unknown };
  if (deriver !== deriverVersion || !Array.isArray(records)) return null;
  const map = new Map<string, readonly string[]>();
  for (const r of records as unknown[]) {
    if (!Array.isArray(r) || r.length < 2 || !r.every((x) => typeof x === 'string')) return null;
    map.set(r[0] as string, r.slice(1) as string[]);
  }
  return map;
}
