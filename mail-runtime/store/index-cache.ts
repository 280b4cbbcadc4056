import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { z } from 'zod';
import { isErrno } from './fsutil';
import type { CacheMiss, IndexState, LoadedIndex, Msg } from './index-state';
import { DeliveryIds, DELIVERY_ID_RE } from './deliveries';
import { ExpungeLog } from './vanished';

/**
 * `<maildir>/mailfleet/index.bin`: the folder's index as the snapshot and
 * the logs after it describe it, in one binary file the next process loads
 * with one read and typed-array views, instead of JSON-parsing 100,000
 * message tuples and replaying the log (the first SELECT of a large folder
 * after a restart paid that).
 *
 * It is derived data, like scan.json: the JSON snapshot and the logs stay
 * the truth. The file names what it was derived from — the snapshot's and
 * every log's size, inode and mtime — and is used only if the folder's
 * index files are still exactly those; a file of another format version, a
 * wrong checksum (CRC-32 over everything after the fixed head), a header
 * that does not parse or contents that do not hold together (UIDs not
 * ascending, offsets out of range) are ignored and the index is read from
 * the snapshot and logs as before. So a stale, damaged or foreign cache
 * costs time, never wrong data. Written (temp name + rename, no fsync: a
 * torn file fails its checksum) when a folder is closed cleanly.
 *
 * Layout (little-endian):
 *   0  "MFIX"               magic
 *   4  u32 version          CACHE_VERSION; anything else is ignored
 *   8  u32 header length H  JSON header (CacheHeader), UTF-8
 *  12  u32 CRC-32           of bytes 16 .. end
 *  16  header, padded to 8
 *      Float64Array[n] internal dates (ms), sizes, modseqs
 *      Uint32Array[n]  UIDs, flag-set index, end of base, end of EMAILID (byte offsets in their blobs)
 *      bases blob, EMAILIDs blob (UTF-8)
 */
export const CACHE_FILE = 'index.bin';
/** Temp files of an interrupted cache write (removed when the folder opens). */
export const CACHE_TMP_RE = /^\.index\.bin\.\d+\.tmp$/;
const MAGIC = 0x5849464d; // "MFIX" read as u32 LE
/** Bump on any change of the layout or of what the header means. */
// 2: the header carries the folder's accepted delivery ids (./deliveries.ts):
// a cache without them would let a repeated delivery in after a reopen.
export const CACHE_VERSION = 2;
const HEAD = 16;

/** size, inode, mtime (ns) of one index file, as decimal strings (bigint stat). */
const FileId = z.tuple([z.string(), z.string(), z.string()]);
const CacheHeader = z.strictObject({
  snapshotEpoch: z.number().int().min(0),
  snapshotGen: z.number().int().min(0),
  lastGen: z.number().int().min(-1),
  torn: z.boolean(),
  replayed: z.number().int().min(0),
  /** Every index file of snapshotEpoch (the snapshot and its logs) → FileId. */
  files: z.record(z.string(), FileId),
  uidValidity: z.number().int().min(0).max(0xffff_ffff),
  uidNext: z.number().int().min(1).max(0x1_0000_0000),
  highestModseq: z.number().int().min(0),
  recentUid: z.number().int().min(0).max(0xffff_ffff).optional(),
  count: z.number().int().min(0),
  /** Distinct flag lists; each message names one by index. */
  flagSets: z.array(z.array(z.string().min(1))),
  basesBytes: z.number().int().min(0),
  idsBytes: z.number().int().min(0),
  expunged: z.array(z.tuple([z.number().int().min(1), z.number().int().min(0)])),
  expungedFloor: z.number().int().min(0),
  /** [delivery id, accepted at ms, uid] within the horizon, as in the snapshot (on-disk.ts). */
  deliveries: z.array(z.tuple([z.string().regex(DELIVERY_ID_RE), z.number().finite(), z.number().int().min(1)])),
});
type CacheHeader = z.infer<typeof CacheHeader>;

const SNAP_RE = /^snapshot\.(\d+)\.json$/;
const LOG_RE = /^index\.(\d+)\.(\d+)\.log$/;

/** The index files of one epoch (its snapshot and logs) with their identities; null if the snapshot is missing. */
async function indexFiles(metaDir: string, entries: readonly string[], epoch: number): Promise<Record<string, [string, string, string]> | null> {
  const names = entries.filter((e) => {
    const m = SNAP_RE.exec(e) ?? LOG_RE.exec(e);
    return m !== null && Number(m[1]) === epoch;
  });
  if (!names.includes(`snapshot.${epoch}.json`)) return null;
  const out: Record<string, [string, string, string]> = {};
  const stats = await Promise.all(names.map((n) => fs.promises.stat(path.join(metaDir, n), { bigint: true })));
  names.forEach((n, i) => {
    const st = stats[i]!;
    out[n] = [String(st.size), String(st.ino), String(st.mtimeNs)];
  });
  return out;
}

function sameFiles(a: Record<string, readonly string[]>, b: Record<string, readonly string[]>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    const x = a[k]!;
    const y = b[k];
    if (!y || x.length !== y.length || x.some((v, i) => v !== y[i])) return false;
  }
  return true;
}

const pad8 = (n: number): number => (n + 7) & ~7;

/** Encodes a loaded index (state plus where it came from) with the identities of the files it came from. */
export function encodeCache(loaded: LoadedIndex, files: Record<string, [string, string, string]>): Buffer {
  const { state } = loaded;
  const msgs = state.messages;
  const n = msgs.length;
  const setIndex = new Map<string, number>();
  const flagSets: string[][] = [];
  const setOf = new Uint32Array(n);
  const bases: string[] = [];
  const ids: string[] = [];
  const baseEnd = new Uint32Array(n);
  const idEnd = new Uint32Array(n);
  let bEnd = 0;
  let iEnd = 0;
  for (let i = 0; i < n; i++) {
    const m = msgs[i]!;
    const key = m.flags.join('\u0000');
    let k = setIndex.get(key);
    if (k === undefined) {
      k = flagSets.length;
      setIndex.set(key, k);
      flagSets.push([...m.flags]);
    }
    setOf[i] = k;
    bases.push(m.base);
    ids.push(m.emailId);
    bEnd += Buffer.byteLength(m.base);
    iEnd += Buffer.byteLength(m.emailId);
    baseEnd[i] = bEnd;
    idEnd[i] = iEnd;
  }
  const header: CacheHeader = {
    snapshotEpoch: loaded.snapshotEpoch,
    snapshotGen: loaded.snapshotGen,
    lastGen: loaded.lastGen,
    torn: loaded.torn,
    replayed: loaded.replayed,
    files,
    uidValidity: state.uidValidity,
    uidNext: state.uidNext,
    highestModseq: state.highestModseq,
    ...(state.recentUid === undefined ? {} : { recentUid: state.recentUid }),
    count: n,
    flagSets,
    basesBytes: bEnd,
    idsBytes: iEnd,
    expunged: state.expunges.entries(),
    expungedFloor: state.expunges.floor,
    deliveries: state.deliveries.entries(),
  };
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const body = pad8(HEAD + h.length);
  const total = body + n * (3 * 8 + 4 * 4) + bEnd + iEnd;
  const buf = Buffer.alloc(total);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(CACHE_VERSION, 4);
  buf.writeUInt32LE(h.length, 8);
  h.copy(buf, HEAD);
  const f64 = new Float64Array(buf.buffer, buf.byteOffset + body, 3 * n);
  const u32 = new Uint32Array(buf.buffer, buf.byteOffset + body + 24 * n, 4 * n);
  for (let i = 0; i < n; i++) {
    const m = msgs[i]!;
    f64[i] = m.internalDate.getTime();
    f64[n + i] = m.size;
    f64[2 * n + i] = m.modseq;
    u32[i] = m.uid;
    u32[n + i] = setOf[i]!;
    u32[2 * n + i] = baseEnd[i]!;
    u32[3 * n + i] = idEnd[i]!;
  }
  let at = body + 40 * n;
  at += buf.write(bases.join(''), at, 'utf8');
  buf.write(ids.join(''), at, 'utf8');
  buf.writeUInt32LE(crc32(buf.subarray(HEAD)), 12);
  return buf;
}

/**
 * The index from the cache, if it is ours, whole and derived from exactly
 * the index files of `snapshotEpoch` that are there now.
 */
export async function readCache(metaDir: string, entries: readonly string[], snapshotEpoch: number): Promise<{ loaded: LoadedIndex } | { miss: CacheMiss }> {
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(path.join(metaDir, CACHE_FILE));
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return { miss: 'absent' };
    return { miss: 'damaged' };
  }
  const decoded = decodeCache(buf);
  if ('miss' in decoded) return decoded;
  const { header } = decoded;
  if (header.snapshotEpoch !== snapshotEpoch) return { miss: 'stale' };
  let files: Record<string, [string, string, string]> | null;
  try {
    files = await indexFiles(metaDir, entries, snapshotEpoch);
  } catch {
    return { miss: 'stale' }; // a file went away between listing and stat: read the index the long way
  }
  if (!files || !sameFiles(files, header.files)) return { miss: 'stale' };
  return { loaded: decoded.loaded };
}

/** Checks and decodes a cache file's bytes (no file system access). */
export function decodeCache(buf: Buffer): { loaded: LoadedIndex; header: CacheHeader } | { miss: CacheMiss } {
  if (buf.length < HEAD || buf.readUInt32LE(0) !== MAGIC) return { miss: 'damaged' };
  if (buf.readUInt32LE(4) !== CACHE_VERSION) return { miss: 'version' };
  const hLen = buf.readUInt32LE(8);
  if (HEAD + hLen > buf.length || crc32(buf.subarray(HEAD)) !== buf.readUInt32LE(12)) return { miss: 'damaged' };
  let header: CacheHeader;
  try {
    const parsed = CacheHeader.safeParse(JSON.parse(buf.toString('utf8', HEAD, HEAD + hLen)));
    if (!parsed.success) return { miss: 'damaged' };
    header = parsed.data;
  } catch {
    return { miss: 'damaged' };
  }
  const n = header.count;
  const body = pad8(HEAD + hLen);
  if (buf.length !== body + 40 * n + header.basesBytes + header.idsBytes) return { miss: 'damaged' };
  // Typed arrays need aligned offsets: copy once when the read buffer is not 8-aligned (a pooled Buffer may not be).
  const aligned = (buf.byteOffset + body) % 8 === 0 ? buf : Buffer.from(buf);
  const f64 = new Float64Array(aligned.buffer, aligned.byteOffset + body, 3 * n);
  const u32 = new Uint32Array(aligned.buffer, aligned.byteOffset + body + 24 * n, 4 * n);
  const basesAt = body + 40 * n;
  const idsAt = basesAt + header.basesBytes;
  const bases = aligned.toString('utf8', basesAt, idsAt);
  const ids = aligned.toString('utf8', idsAt, idsAt + header.idsBytes);
  // Byte offsets are character offsets only in ASCII; otherwise decode each string from its bytes.
  const basesAscii = bases.length === header.basesBytes;
  const idsAscii = ids.length === header.idsBytes;
  const flagSets = header.flagSets.map((s) => Object.freeze(s) as readonly string[]);
  // The running counts come for free here: per flag set, then per message.
  const unseenOf = flagSets.map((s) => !s.includes('\\Seen'));
  const deletedOf = flagSets.map((s) => s.includes('\\Deleted'));
  const counts = { unseen: 0, deleted: 0, bytes: 0 };
  const messages: Msg[] = new Array<Msg>(n);
  let prevUid = 0;
  let bStart = 0;
  let iStart = 0;
  for (let i = 0; i < n; i++) {
    const uid = u32[i]!;
    const set = u32[n + i]!;
    const bEnd = u32[2 * n + i]!;
    const iEnd = u32[3 * n + i]!;
    const d = f64[i]!;
    const size = f64[n + i]!;
    const modseq = f64[2 * n + i]!;
    if (uid <= prevUid || uid >= header.uidNext || set >= flagSets.length || bEnd <= bStart || bEnd > header.basesBytes || iEnd <= iStart || iEnd > header.idsBytes) return { miss: 'damaged' };
    if (!Number.isFinite(d) || !Number.isSafeInteger(size) || size < 0 || !Number.isSafeInteger(modseq) || modseq < 0) return { miss: 'damaged' };
    messages[i] = {
      uid,
      base: basesAscii ? bases.slice(bStart, bEnd) : aligned.toString('utf8', basesAt + bStart, basesAt + bEnd),
      flags: flagSets[set]!,
      internalDate: new Date(d),
      size,
      modseq,
      emailId: idsAscii ? ids.slice(iStart, iEnd) : aligned.toString('utf8', idsAt + iStart, idsAt + iEnd),
    };
    if (unseenOf[set]) counts.unseen++;
    if (deletedOf[set]) counts.deleted++;
    counts.bytes += size;
    prevUid = uid;
    bStart = bEnd;
    iStart = iEnd;
  }
  const loaded: LoadedIndex = {
    state: {
      uidValidity: header.uidValidity,
      uidNext: header.uidNext,
      highestModseq: header.highestModseq,
      messages,
      expunges: new ExpungeLog(header.expunged, header.expungedFloor),
      deliveries: new DeliveryIds(header.deliveries),
      counts,
      ...(header.recentUid === undefined ? {} : { recentUid: header.recentUid }),
    },
    snapshotEpoch: header.snapshotEpoch,
    snapshotGen: header.snapshotGen,
    lastGen: header.lastGen,
    torn: header.torn,
    replayed: header.replayed,
  };
  return { loaded, header };
}

/**
 * Writes the cache for a folder whose index files of `snapshotEpoch` (the
 * snapshot of generation `snapshotGen` and the logs after it) are, right
 * now, exactly what `state` was read from and written to (call with no
 * write in flight). Best effort: callers ignore failures.
 */
export async function writeCache(metaDir: string, state: IndexState, snapshotEpoch: number, snapshotGen: number): Promise<void> {
  const entries = await fs.promises.readdir(metaDir);
  const files = await indexFiles(metaDir, entries, snapshotEpoch);
  const target = path.join(metaDir, CACHE_FILE);
  if (!files) {
    await fs.promises.rm(target, { force: true });
    return;
  }
  // What loadIndex would say of these files: the highest log generation from the snapshot's on.
  let lastGen = snapshotGen - 1;
  for (const e of entries) {
    const m = LOG_RE.exec(e);
    if (m && Number(m[1]) === snapshotEpoch && Number(m[2]) >= snapshotGen) lastGen = Math.max(lastGen, Number(m[2]));
  }
  const tmp = path.join(metaDir, `.${CACHE_FILE}.${process.pid}.tmp`);
  await fs.promises.writeFile(tmp, encodeCache({ state, snapshotEpoch, snapshotGen, lastGen, torn: false, replayed: 0 }, files), { mode: 0o600 });
  await fs.promises.rename(tmp, target);
}
