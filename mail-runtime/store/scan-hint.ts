import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { isErrno } from './fsutil';

/**
 * `<maildir>/mailfleet/scan.json`: what the folder's index and its `cur/`
 * and `new/` directories looked like when the folder was last closed
 * cleanly. If, at the next open, the index read from disk is in exactly
 * that state (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, message count, log
 * generation) and both directories still have the recorded mtimes, no file
 * was added, renamed or removed since, so the reconcile's walk of every name
 * in `cur/` (100,000 entries for a large folder) is skipped — the Maildir
 * "directory mtime" rule Dovecot uses, including its caution: an mtime less
 * than two seconds older than the moment it was recorded is not trusted (a
 * coarse-grained file system, e.g. NFS with 1 s times, could change the
 * directory again within the same tick without moving its mtime).
 *
 * Only the mailbox's owner writes its files (ownership and epochs, see
 * DESIGN.md), so an unchanged directory means an unchanged folder. The
 * file is a hint: written without fsync, and any doubt (missing, torn,
 * another state, another mtime) means a full reconcile, as before.
 */
const SCAN_FILE = 'scan.json';
/** Temp files of an interrupted hint write (removed when the folder opens). */
export const SCAN_TMP_RE = /^\.scan\.json\.\d+\.tmp$/;
/** Dovecot's maildir rule: a directory changed within this many ms of being looked at may change again unseen. */
const MTIME_DISTRUST_MS = 2000;

const ScanHint = z.strictObject({
  v: z.literal(1),
  epoch: z.number().int().min(0),
  gen: z.number().int().min(0),
  uidValidity: z.number().int(),
  uidNext: z.number().int(),
  highestModseq: z.number().int(),
  messages: z.number().int().min(0),
  /** mtimes in nanoseconds as decimal strings (bigint stat). */
  cur: z.string().regex(/^\d+$/),
  new: z.string().regex(/^\d+$/),
});
type ScanHint = z.infer<typeof ScanHint>;

/** The part of the hint that describes the index. */
export interface ScanState {
  epoch: number;
  gen: number;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  messages: number;
}

async function dirMtimes(dir: string): Promise<{ cur: bigint; new: bigint } | null> {
  try {
    const [c, n] = await Promise.all([fs.promises.stat(path.join(dir, 'cur'), { bigint: true }), fs.promises.stat(path.join(dir, 'new'), { bigint: true })]);
    return { cur: c.mtimeNs, new: n.mtimeNs };
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return null;
    throw e;
  }
}

/** mtimes of `cur/` and `new/` (ns), or null when missing or too recent to vouch for the directories (see above). */
export async function trustedDirMtimes(dir: string): Promise<{ cur: bigint; new: bigint } | null> {
  const m = await dirMtimes(dir);
  const limit = BigInt(Date.now() - MTIME_DISTRUST_MS) * 1_000_000n;
  return m === null || m.cur > limit || m.new > limit ? null : m;
}

/** True when `cur/` and `new/` still have these mtimes. */
export async function dirsUnchanged(dir: string, was: { cur: bigint; new: bigint }): Promise<boolean> {
  const m = await dirMtimes(dir);
  return m !== null && m.cur === was.cur && m.new === was.new;
}

/** Removes the hint (before the folder's files may change without the index: best effort). */
async function dropScanHint(metaDir: string): Promise<void> {
  await fs.promises.rm(path.join(metaDir, SCAN_FILE), { force: true }).catch(() => undefined);
}

/** True when the hint proves `cur/` and `new/` unchanged since the index reached `state`. */
export async function scanHintHolds(dir: string, metaDir: string, state: ScanState): Promise<boolean> {
  let hint: ScanHint;
  try {
    const parsed = ScanHint.safeParse(JSON.parse(await fs.promises.readFile(path.join(metaDir, SCAN_FILE), 'utf8')));
    if (!parsed.success) return false;
    hint = parsed.data;
  } catch {
    return false; // missing or torn: reconcile
  }
  if (
    hint.epoch !== state.epoch ||
    hint.gen !== state.gen ||
    hint.uidValidity !== state.uidValidity ||
    hint.uidNext !== state.uidNext ||
    hint.highestModseq !== state.highestModseq ||
    hint.messages !== state.messages
  ) {
    return false;
  }
  const now = await dirMtimes(dir);
  return now !== null && String(now.cur) === hint.cur && String(now.new) === hint.new;
}

/**
 * Records the state after the folder's last write (call with no write in
 * flight). Not written when a directory changed too recently to trust its
 * mtime; an old hint is removed then, so it cannot vouch for a later state.
 */
export async function writeScanHint(dir: string, metaDir: string, state: ScanState): Promise<void> {
  const file = path.join(metaDir, SCAN_FILE);
  const m = await dirMtimes(dir);
  const limit = BigInt(Date.now() - MTIME_DISTRUST_MS) * 1_000_000n;
  if (m === null || m.cur > limit || m.new > limit) {
    await dropScanHint(metaDir);
    return;
  }
  const hint: ScanHint = { v: 1, ...state, cur: String(m.cur), new: String(m.new) };
  const tmp = path.join(metaDir, `.${SCAN_FILE}.${process.pid}.tmp`);
  await fs.promises.writeFile(tmp, JSON.stringify(hint), { mode: 0o600 });
  await fs.promises.rename(tmp, file);
}
