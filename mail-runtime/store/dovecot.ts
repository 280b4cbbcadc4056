import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { newEmailId } from './email-id';
import { baseOfFileName, flagsFromFileName, isKeyword } from './flags';
import { isErrno, readdirOrEmpty, readFileOrNull, writeFileAtomic, yieldToLoop, YIELD_EVERY_ITEMS, type StoreContext } from './fsutil';
import type { IndexState, Msg } from './index-state';
import { DeliveryIds } from './deliveries';
import { ExpungeLog } from './vanished';

/**
 * Dovecot's own files in a Maildir folder, so a mailbox moves between
 * Dovecot and mailfleet without clients resynchronising:
 *
 *   dovecot-uidlist    UIDVALIDITY, next UID and `<uid> :<file base>` per message
 *                      (format version 3, Dovecot ≥ 1.1; version 1 is read too)
 *   dovecot-keywords   `<index> <keyword>` lines; index 0..25 is the letter
 *                      a..z in a file name's `:2,` info after the system flags
 *
 * Reading (adoption) is in ./folder.ts; the formats and the rules for
 * keeping them in step with our index are here. See README.md "Dovecot".
 */

export const UIDLIST_FILE = 'dovecot-uidlist';
export const KEYWORDS_FILE = 'dovecot-keywords';
/** a..z: Dovecot's MAILDIR_MAX_KEYWORDS. Further keywords live only in our index (Dovecot does not see them). */
export const MAX_KEYWORD_LETTERS = 26;

// ---------------------------------------------------------------------------
// dovecot-keywords

/** Keyword ↔ letter, as dovecot-keywords says. Keywords compare case-insensitively (Dovecot: strcasecmp). */
export class KeywordLetters {
  private readonly names: (string | undefined)[] = [];
  private readonly byLower = new Map<string, number>();

  static parse(text: string): KeywordLetters {
    const k = new KeywordLetters();
    // Dovecot skips lines it cannot use (maildir-keywords.c); so do we.
    for (const line of text.split('\n')) {
      const m = /^(\d+) (.+)$/.exec(line);
      if (!m) continue;
      const i = Number(m[1]);
      if (i >= MAX_KEYWORD_LETTERS || k.byLower.has(m[2].toLowerCase())) continue;
      k.set(i, m[2]);
    }
    return k;
  }

  private set(i: number, name: string): void {
    const old = this.names[i];
    if (old !== undefined) this.byLower.delete(old.toLowerCase());
    this.names[i] = name;
    this.byLower.set(name.toLowerCase(), i);
  }

  letterOf(keyword: string): string | undefined {
    const i = this.byLower.get(keyword.toLowerCase());
    return i === undefined ? undefined : String.fromCharCode(0x61 + i);
  }

  keywordOf(letter: string): string | undefined {
    const i = letter.charCodeAt(0) - 0x61;
    const name = i >= 0 && i < MAX_KEYWORD_LETTERS ? this.names[i] : undefined;
    // A name that is not an IMAP atom cannot be shown to a client; its slot stays Dovecot's.
    return name !== undefined && isKeyword(name) ? name : undefined;
  }

  /** Gives the keywords among `flags` that have none a free letter; true when the map changed (write it before using the letters). */
  assign(flags: Iterable<string>): boolean {
    let changed = false;
    for (const f of flags) {
      if (f.startsWith('\\') || this.byLower.has(f.toLowerCase())) continue;
      let i = 0;
      while (i < MAX_KEYWORD_LETTERS && this.names[i] !== undefined) i++;
      if (i === MAX_KEYWORD_LETTERS) return changed;
      this.set(i, f);
      changed = true;
    }
    return changed;
  }

  format(): string {
    return this.names.map((n, i) => (n === undefined ? '' : `${i} ${n}\n`)).join('');
  }
}

export async function readKeywordLetters(dir: string): Promise<KeywordLetters> {
  const raw = await readFileOrNull(path.join(dir, KEYWORDS_FILE));
  return KeywordLetters.parse(raw ? raw.toString('utf8') : '');
}

export async function writeKeywordLetters(ctx: StoreContext, dir: string, k: KeywordLetters): Promise<void> {
  await writeFileAtomic(ctx, path.join(dir, KEYWORDS_FILE), k.format(), 'file');
}

// ---------------------------------------------------------------------------
// dovecot-uidlist (format: src/lib-storage/index/maildir/maildir-uidlist.c)

export interface UidlistRecord {
  uid: number;
  /** Dovecot's per-message extension fields (`W<vsize>`, `G<guid>`, `P<pop3 uidl>`...), kept as written. */
  ext: string;
  /** File name up to the `:` info. */
  base: string;
}

export interface Uidlist {
  version: 1 | 3;
  uidValidity: number;
  nextUid: number;
  /** Header fields other than V and N (G<mailbox guid> and any Dovecot adds), kept as written. */
  headerExt: string[];
  records: UidlistRecord[];
  /** The file ended with a newline (a crash mid-append leaves a partial line). */
  complete: boolean;
}

/** Parses a uidlist as Dovecot does; a string says why Dovecot too would call it broken. */
export function parseUidlist(text: string): Uidlist | string {
  const lines = text.split('\n');
  const complete = lines[lines.length - 1] === '';
  if (complete) lines.pop();
  const header = parseHeader(lines[0] ?? '');
  if (typeof header === 'string') return header;
  const records: UidlistRecord[] = [];
  let prev = 0;
  for (let i = 1; i < lines.length; i++) {
    if (!complete && i === lines.length - 1) break; // a torn last line: not a record yet
    const r = parseRecord(lines[i], header.version);
    if (typeof r === 'string') return `line ${i + 1}: ${r}`;
    if (r.uid <= prev) return `line ${i + 1}: UIDs not ordered (${r.uid} after ${prev})`;
    prev = r.uid;
    records.push(r);
  }
  return { ...header, records, complete };
}

function parseHeader(line: string): Omit<Uidlist, 'records' | 'complete'> | string {
  const v = /^(\d) (.*)$/.exec(line);
  if (!v) return 'header: no version';
  if (v[1] === '1') {
    const m = /^(\d+) (\d+)/.exec(v[2]);
    if (!m) return 'header: version 1 needs <uidvalidity> <next uid>';
    return checkHeader({ version: 1, uidValidity: Number(m[1]), nextUid: Number(m[2]), headerExt: [] });
  }
  if (v[1] !== '3') return `header: version ${v[1]} unsupported`;
  let uidValidity = 0;
  let nextUid = 0;
  const headerExt: string[] = [];
  for (const field of v[2].split(' ')) {
    if (field === '') continue;
    if (field[0] === 'V') uidValidity = Number(field.slice(1));
    else if (field[0] === 'N') nextUid = Number(field.slice(1));
    else headerExt.push(field);
  }
  return checkHeader({ version: 3, uidValidity, nextUid, headerExt });
}

function checkHeader(h: Omit<Uidlist, 'records' | 'complete'>): Omit<Uidlist, 'records' | 'complete'> | string {
  const ok = (n: number) => Number.isSafeInteger(n) && n > 0 && n <= 0xffff_ffff;
  if (!ok(h.uidValidity) || !ok(h.nextUid)) return `header: broken (uidvalidity ${h.uidValidity}, next uid ${h.nextUid})`;
  return h;
}

function parseRecord(line: string, version: 1 | 3): UidlistRecord | string {
  const m = /^(\d+) +(.*)$/.exec(line);
  if (!m) return 'invalid data';
  const uid = Number(m[1]);
  if (!(uid > 0 && uid < 0xffff_ffff)) return `UID ${m[1]} out of range`;
  let rest = m[2];
  let ext = '';
  if (version === 3) {
    const colon = rest.indexOf(':');
    if (colon < 0) return 'no ":<file name>"';
    ext = rest.slice(0, colon).trim();
    rest = rest.slice(colon + 1);
  }
  if (rest === '' || rest.includes('/')) return 'broken file name';
  return { uid, ext, base: baseOfFileName(rest) };
}

export function uidlistHeader(uidValidity: number, nextUid: number, headerExt: readonly string[]): string {
  return ['3', `V${uidValidity}`, `N${nextUid}`, ...headerExt].join(' ') + '\n';
}

function recordLine(uid: number, base: string, ext = ''): string {
  return `${uid}${ext ? ` ${ext}` : ''} :${base}\n`;
}

/** Bytes of a record line without extension fields, `<uid> :<base>\n` (the size estimate below). */
function lineBytes(m: Msg): number {
  return String(m.uid).length + 2 + Buffer.byteLength(m.base) + 1;
}

/** Rewrite once this much of the file is lines of expunged messages (Dovecot: UIDLIST_COMPRESS_PERCENTAGE 75). */
const DEAD_FRACTION = 0.25;
/** ...and at least this many bytes: a small file is cheaper to append to than to rewrite. */
const DEAD_MIN_BYTES = 8 * 1024;
/** Head and tail read at load to check the file without reading it all. */
const PEEK_BYTES = 4096;

/**
 * Keeps `dovecot-uidlist` in step with the folder's index.
 *
 * The guarantee: the file never lists a UID that is not durably in our
 * index, with the file base the index has for it. New messages are appended
 * (one write, not fsynced) only after their group commit is durable and the
 * ownership checks passed; the whole file is rewritten (temp file, fsync,
 * rename, fsync directory) from the durable state only. It may lag behind
 * the index — a crash between a commit and its append, a torn append after
 * power loss — and the next open of the folder repairs that from the
 * index before anything else is written. Lines of expunged messages stay
 * until the next rewrite, as in Dovecot's own appends (Dovecot skips them:
 * their files are gone). A lagging file never makes Dovecot reuse a UID:
 * whenever Dovecot's next UID (max of the header's N and the last listed
 * UID + 1) would fall below ours, the file is rewritten with our N.
 */
export class UidlistSync {
  private fh: fs.promises.FileHandle | null = null;
  /** What we know of the file on disk. */
  private bytes = 0;
  private deadBytes = 0;
  private lastListed = 0;
  private headerNext = 0;
  private due = true;

  constructor(
    private readonly ctx: StoreContext,
    private dir: string,
  ) {}

  private get file(): string {
    return path.join(this.dir, UIDLIST_FILE);
  }

  /** The folder directory moved (rename). */
  relocate(dir: string): void {
    void this.close();
    this.dir = dir;
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    await fh?.close().catch(() => undefined);
  }

  /**
   * At load, from the durable state: check the file's header and its last
   * line (two small reads), append what is missing, or rewrite it.
   */
  async atLoad(state: IndexState): Promise<void> {
    this.due = true;
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(this.file, 'r');
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
      return this.rewrite(state);
    }
    let head: string;
    let tail: string;
    let size: number;
    try {
      size = (await fh.stat()).size;
      const h = Buffer.alloc(Math.min(PEEK_BYTES, size));
      await fh.read(h, 0, h.length, 0);
      head = h.toString('utf8');
      const t = Buffer.alloc(Math.min(PEEK_BYTES, size));
      await fh.read(t, 0, t.length, size - t.length);
      tail = t.toString('utf8');
    } finally {
      await fh.close();
    }
    const nl = head.indexOf('\n');
    const header = nl < 0 ? 'no header line' : parseHeader(head.slice(0, nl));
    if (typeof header === 'string' || header.version !== 3 || header.uidValidity !== state.uidValidity || !tail.endsWith('\n')) {
      return this.rewrite(state);
    }
    let last = 0;
    if (size > nl + 1) {
      // Records follow the header: the last one ends the file.
      const body = tail.slice(0, -1);
      const i = body.lastIndexOf('\n');
      if (i < 0 && size > tail.length) return this.rewrite(state); // a line longer than the window: not ours
      const r = parseRecord(body.slice(i + 1), 3);
      if (typeof r === 'string') return this.rewrite(state);
      last = r.uid;
    }
    // A UID we never assigned (a zombie's late append, a foreign writer): rewrite from the index.
    if (last >= state.uidNext) return this.rewrite(state);
    this.bytes = size;
    this.lastListed = last;
    this.headerNext = header.nextUid;
    let live = nl + 1;
    for (const m of state.messages) live += lineBytes(m);
    this.deadBytes = Math.max(0, size - live);
    this.due = false;
    await this.appendNew(state, state.messages);
  }

  /** After a durable, acknowledged group commit: list its new messages, note the expunged ones. */
  async afterCommit(state: IndexState, added: readonly Msg[], expunged: readonly Msg[]): Promise<void> {
    for (const m of expunged) this.deadBytes += lineBytes(m);
    try {
      if (this.due) await this.rewrite(state);
      else await this.appendNew(state, added);
    } catch (e) {
      // We no longer know what the file holds: the next commit (or open) rewrites it.
      this.due = true;
      await this.close();
      throw e;
    }
  }

  private async appendNew(state: IndexState, candidates: readonly Msg[]): Promise<void> {
    const fresh = candidates.filter((m) => m.uid > this.lastListed);
    if (fresh.length > 0) {
      const text = fresh.map((m) => recordLine(m.uid, m.base)).join('');
      this.fh ??= await fs.promises.open(this.file, 'a', 0o600);
      await this.fh.write(text);
      this.bytes += Buffer.byteLength(text);
      this.lastListed = fresh[fresh.length - 1].uid;
    }
    const dovecotNext = Math.max(this.headerNext, this.lastListed + 1);
    if (dovecotNext < state.uidNext || (this.deadBytes >= DEAD_MIN_BYTES && this.deadBytes > this.bytes * DEAD_FRACTION)) {
      await this.rewrite(state);
    }
  }

  /**
   * The whole file from the durable state: header V and N ours, Dovecot's
   * other header fields (its mailbox GUID) and each listed message's
   * extension fields (POP3 UIDLs, sizes) kept from the old file.
   */
  async rewrite(state: IndexState): Promise<void> {
    this.due = true;
    await this.close();
    const old = await readFileOrNull(this.file);
    let headerExt: string[] = [];
    const extOf = new Map<number, UidlistRecord>();
    if (old) {
      const parsed = parseUidlist(old.toString('utf8'));
      if (typeof parsed !== 'string') {
        headerExt = parsed.headerExt;
        for (const r of parsed.records) if (r.ext) extOf.set(r.uid, r);
      }
    }
    // Dovecot wants its mailbox GUID (128 bits, hex); without one it rewrites the file itself.
    if (!headerExt.some((f) => /^G[0-9a-f]{32}$/.test(f))) headerExt = [...headerExt.filter((f) => f[0] !== 'G'), `G${randomBytes(16).toString('hex')}`];
    const parts = [uidlistHeader(state.uidValidity, state.uidNext, headerExt)];
    let n = 0;
    for (const m of state.messages) {
      if (++n % YIELD_EVERY_ITEMS === 0) await yieldToLoop();
      const prev = extOf.get(m.uid);
      parts.push(recordLine(m.uid, m.base, prev && prev.base === m.base ? prev.ext : ''));
    }
    const text = parts.join('');
    await writeFileAtomic(this.ctx, this.file, text, 'file');
    this.bytes = Buffer.byteLength(text);
    this.deadBytes = 0;
    this.lastListed = state.messages.length ? state.messages[state.messages.length - 1].uid : 0;
    this.headerNext = state.uidNext;
    this.due = false;
  }
}

// ---------------------------------------------------------------------------
// Adoption

/** Files looked at (stat, or read for a size) at once during adoption. */
const ADOPT_PARALLEL = 64;

/**
 * The index of a folder Dovecot kept, on the first open by mailfleet (no
 * index of ours yet): Dovecot's UIDVALIDITY and next UID, and for every file
 * its uidlist names, that UID; flags and keywords from the file name (the
 * `:2,` letters, keywords through dovecot-keywords), INTERNALDATE from the
 * mtime and RFC822.SIZE from `W=` — as Dovecot itself reads them. Files the
 * uidlist does not name are left to the reconcile that follows (new UIDs
 * above Dovecot's, as Dovecot would give them). Nothing is written here:
 * the caller's first snapshot makes the adoption durable, so a crash before
 * it adopts the same way again.
 *
 * `null` when there is no uidlist; a uidlist Dovecot itself would reject
 * (it then deletes the file and gives new UIDs) is logged and ignored.
 */
export async function adoptFromDovecot(
  ctx: StoreContext,
  dir: string,
  keywords: KeywordLetters,
  firstModseq: number,
): Promise<Omit<IndexState, 'recentUid'> | null> {
  const file = path.join(dir, UIDLIST_FILE);
  const raw = await readFileOrNull(file);
  if (!raw) return null;
  const parsed = parseUidlist(raw.toString('utf8'));
  if (typeof parsed === 'string') {
    ctx.logger?.warn({ file, problem: parsed }, 'dovecot-uidlist is broken; the folder gets new UIDs (as Dovecot would do)');
    return null;
  }
  const files = new Map<string, string>();
  for (const sub of ['new', 'cur']) {
    for (const e of await readdirOrEmpty(path.join(dir, sub))) if (!e.startsWith('.')) files.set(baseOfFileName(e), path.join(sub, e));
  }
  const listed = parsed.records.filter((r) => files.has(r.base));
  const found: (Msg | null)[] = [];
  for (let i = 0; i < listed.length; i += ADOPT_PARALLEL) {
    found.push(...(await Promise.all(listed.slice(i, i + ADOPT_PARALLEL).map((r) => adoptOne(dir, files.get(r.base)!, r, keywords)))));
    if (i % (ADOPT_PARALLEL * 16) === 0) await yieldToLoop();
  }
  // A file listed twice keeps its later UID, as in Dovecot (maildir_uidlist_next).
  const byBase = new Map<string, Msg>();
  for (const m of found) if (m) byBase.set(m.base, m);
  let modseq = firstModseq;
  const messages = [...byBase.values()].sort((a, b) => a.uid - b.uid).map((m) => ({ ...m, modseq: ++modseq }));
  const lastListed = parsed.records.length ? parsed.records[parsed.records.length - 1].uid : 0;
  return {
    uidValidity: parsed.uidValidity,
    // Dovecot's own rule (maildir_uidlist_update_read): next UID is past the header's and every listed UID.
    uidNext: Math.max(parsed.nextUid, lastListed + 1),
    highestModseq: modseq,
    messages,
    // Expunges before adoption have no mod-sequence here: QRESYNC from an earlier one lists every absent UID (RFC 7162 §3.2.5.1).
    expunges: new ExpungeLog([], modseq),
    deliveries: new DeliveryIds(),
  };
}

async function adoptOne(dir: string, rel: string, r: UidlistRecord, keywords: KeywordLetters): Promise<Msg | null> {
  const full = path.join(dir, rel);
  let st: fs.Stats;
  try {
    st = await fs.promises.lstat(full);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return null;
    throw e;
  }
  if (!st.isFile()) return null;
  const name = path.basename(rel);
  const recW = /(?:^| )W(\d+)(?: |$)/.exec(r.ext);
  // Dovecot stores bare LF and counts CRLF: without W= (in the name or the record) the file must be read.
  const size = sizesFromName(name).virtual ?? (recW ? Number(recW[1]) : await virtualSizeOf(full, name, st.size, false));
  return { uid: r.uid, base: r.base, flags: flagsFromFileName(name, keywords), internalDate: new Date(Math.floor(st.mtimeMs)), size, modseq: 0, emailId: newEmailId() };
}

/**
 * RFC822.SIZE of a message file: `W=` when the name has it. Our own files
 * carry `S=` and are served as stored, so `S=` is their size when
 * `trustPhysical`; any other file (procmail, maildrop, an old Dovecot) may
 * have bare LF line ends, so it is read once and counted with CRLF.
 */
export async function virtualSizeOf(file: string, name: string, statSize: number, trustPhysical: boolean): Promise<number> {
  const { physical, virtual } = sizesFromName(name);
  if (virtual !== undefined) return virtual;
  if (physical !== undefined && trustPhysical) return physical;
  try {
    return crlfLength(await fs.promises.readFile(file));
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return statSize;
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Message files written by Dovecot

/** `,S=<physical>` and `,W=<virtual>` of a Maildir file name (Dovecot writes both). */
export function sizesFromName(name: string): { physical?: number; virtual?: number } {
  const base = baseOfFileName(name);
  const s = /,S=(\d+)/.exec(base);
  const w = /,W=(\d+)/.exec(base);
  return { ...(s ? { physical: Number(s[1]) } : {}), ...(w ? { virtual: Number(w[1]) } : {}) };
}

/** Length of the message once every bare LF is CRLF (RFC 5322 §2.3; what Dovecot's W= records). */
export function crlfLength(buf: Buffer): number {
  let n = buf.length;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) if (i === 0 || buf[i - 1] !== 0x0d) n++;
  return n;
}

/**
 * Dovecot stores messages with bare LF line ends (mail_save_crlf = no, its
 * default) and serves them with CRLF; RFC822.SIZE is the CRLF size (W=).
 */
export function toCrlf(buf: Buffer): Buffer {
  const out = Buffer.alloc(crlfLength(buf));
  let o = 0;
  let from = 0;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) {
    if (i > 0 && buf[i - 1] === 0x0d) continue;
    o += buf.copy(out, o, from, i);
    out[o++] = 0x0d;
    from = i; // the LF itself is copied with the next chunk
  }
  buf.copy(out, o, from);
  return out;
}
