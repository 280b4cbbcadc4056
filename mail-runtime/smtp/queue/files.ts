import { open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { problemsFromZod } from '../../config';
import { QueueEntrySchema, parseEntry } from './entry';
import { QueueError, isErrno } from './errors';
import { JOURNAL_FILE, QUEUE_ID, type FolderPaths } from './layout';
import type { QueueEntry } from './types';

/**
 * Reading a queue folder (layout.ts), for its owner and for the operator
 * CLI alike. Nothing here writes: segments are immutable once renamed into
 * place, journals are only appended to, so a reader never sees half a
 * record except a journal's unfinished last line, which it ignores (its
 * writer has not fsynced it, so nobody was told it happened).
 */

/** First line of every segment: the format, so a future one is recognised rather than misread. */
export const SEGMENT_MAGIC = 'MFQSEG1\n';

/** A message inside a segment. */
export interface Location {
  file: string;
  /** Where the message octets start. */
  offset: number;
  size: number;
}

export interface FolderState {
  /** Messages not finished, with their current state, oldest first. */
  entries: Map<string, { entry: QueueEntry; loc: Location }>;
  /** Every segment on disk and the ids it holds (finished or not). */
  segments: Map<string, string[]>;
  /** Finished ids whose segment is still on disk (a compaction must keep saying they are finished). */
  finished: Set<string>;
  /** Journal files, in replay order. */
  journals: { file: string; epoch: number; seq: number }[];
  /** What could not be read: reported, never delivered. */
  problems: { where: string; error: string }[];
}

/** An entry line can be long (100,000 recipients); a longer one is damage, not mail. */
const MAX_LINE_BYTES = 64 * 1024 * 1024;
const READ_CHUNK = 64 * 1024;

/** Reads the line starting at `pos` (without its LF); undefined at end of file. */
async function lineAt(fh: FileHandle, pos: number, where: string): Promise<{ text: string; next: number } | undefined> {
  const chunks: Buffer[] = [];
  let at = pos;
  for (;;) {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, at);
    if (bytesRead === 0) {
      if (chunks.length === 0) return undefined;
      throw new QueueError('CORRUPT', `${where}: record at ${pos} is cut short`);
    }
    const chunk = buf.subarray(0, bytesRead);
    const nl = chunk.indexOf(0x0a);
    if (nl >= 0) {
      chunks.push(chunk.subarray(0, nl));
      return { text: Buffer.concat(chunks).toString('utf8'), next: at + nl + 1 };
    }
    chunks.push(chunk);
    at += bytesRead;
    if (at - pos > MAX_LINE_BYTES) throw new QueueError('CORRUPT', `${where}: record at ${pos} is longer than ${MAX_LINE_BYTES} octets`);
  }
}

/** The records of one segment: each an entry line, then exactly `entry.size` message octets. */
export async function readSegment(file: string): Promise<{ entry: QueueEntry; loc: Location }[]> {
  const fh = await open(file, 'r');
  try {
    const { size: fileSize } = await fh.stat();
    const magic = await lineAt(fh, 0, file);
    if (magic?.text !== SEGMENT_MAGIC.trimEnd()) throw new QueueError('CORRUPT', `${file}: not a queue segment (first line ${JSON.stringify(magic?.text.slice(0, 20))})`);
    const out: { entry: QueueEntry; loc: Location }[] = [];
    for (let pos = magic.next; pos < fileSize; ) {
      const line = await lineAt(fh, pos, file);
      if (!line) break;
      const entry = parseEntry(line.text, `${file} at ${pos}`);
      const loc = { file, offset: line.next, size: entry.size };
      if (loc.offset + loc.size > fileSize) throw new QueueError('CORRUPT', `${file}: message ${entry.id} is cut short`);
      out.push({ entry, loc });
      pos = loc.offset + loc.size;
    }
    return out;
  } finally {
    await fh.close();
  }
}

export async function readMessageAt(loc: Location): Promise<Buffer> {
  let fh: FileHandle;
  try {
    fh = await open(loc.file, 'r');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) throw new QueueError('NOT_FOUND', `segment ${loc.file} is gone`);
    throw e;
  }
  try {
    const buf = Buffer.allocUnsafe(loc.size);
    let got = 0;
    while (got < loc.size) {
      const { bytesRead } = await fh.read(buf, got, loc.size - got, loc.offset + got);
      if (bytesRead === 0) throw new QueueError('CORRUPT', `${loc.file}: message at ${loc.offset} is cut short`);
      got += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}

const QueueId = z.string().regex(QUEUE_ID);
/** A journal line: an entry's whole new state, or its removal once finished. */
export const JournalRecord = z.union([QueueEntrySchema, z.strictObject({ removed: QueueId })]);
export type JournalRecord = z.infer<typeof JournalRecord>;

async function listSorted(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw e;
  }
}

export async function journalFiles(paths: FolderPaths): Promise<{ file: string; epoch: number; seq: number }[]> {
  return (await listSorted(paths.journal))
    .map((name) => ({ name, m: JOURNAL_FILE.exec(name) }))
    .filter((x): x is { name: string; m: RegExpExecArray } => x.m !== null)
    .map(({ name, m }) => ({ file: join(paths.journal, name), epoch: Number(m[1]), seq: Number(m[2]) }))
    .sort((a, b) => a.epoch - b.epoch || a.seq - b.seq);
}

/**
 * The whole folder: segments, then journals replayed in order (a lower
 * epoch first, so a newer owner's lines always win). Damaged records are
 * listed in `problems`; the rest is usable.
 */
export async function loadFolder(paths: FolderPaths): Promise<FolderState> {
  const state: FolderState = { entries: new Map(), segments: new Map(), finished: new Set(), journals: [], problems: [] };
  for (const name of await listSorted(paths.seg)) {
    if (!QUEUE_ID.test(name)) continue;
    const file = join(paths.seg, name);
    try {
      const records = await readSegment(file);
      state.segments.set(file, records.map((r) => r.entry.id));
      for (const r of records) state.entries.set(r.entry.id, r);
    } catch (e) {
      if (isErrno(e, 'ENOENT')) continue; // finished and removed while we looked
      if (!(e instanceof QueueError)) throw e;
      state.problems.push({ where: file, error: e.message });
    }
  }
  state.journals = await journalFiles(paths);
  for (const j of state.journals) {
    let text: string;
    try {
      text = await readFile(j.file, 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) continue; // compacted away meanwhile; its successor holds the same
      throw e;
    }
    const lines = text.split('\n');
    lines.pop(); // after the last LF: empty, or a line whose writer never finished (and never acknowledged) it
    lines.forEach((line, i) => {
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch {
        state.problems.push({ where: `${j.file}:${i + 1}`, error: 'not JSON' });
        return;
      }
      const rec = JournalRecord.safeParse(raw);
      if (!rec.success) {
        state.problems.push({ where: `${j.file}:${i + 1}`, error: problemsFromZod(rec.error).map((p) => `${p.path}: ${p.message}`).join('; ') });
        return;
      }
      if ('removed' in rec.data) {
        if (state.entries.delete(rec.data.removed)) state.finished.add(rec.data.removed);
        return;
      }
      const live = state.entries.get(rec.data.id);
      // A state for a message whose segment is gone (finished, or never acknowledged) is history.
      if (live) live.entry = rec.data;
    });
  }
  return state;
}

/** One message by id (CLI): its current state and where its octets are. */
export async function findEntry(paths: FolderPaths, id: string): Promise<{ entry: QueueEntry; loc: Location }> {
  const found = (await loadFolder(paths)).entries.get(id);
  if (!found) throw new QueueError('NOT_FOUND', `no queued message ${id}`);
  return found;
}
