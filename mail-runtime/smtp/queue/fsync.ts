import { open, rename, rm } from 'node:fs/promises';

/** fsync counters, for /metrics, the bench and tests that prove batching (never for decisions). */
export interface FsyncStats {
  /** File fsyncs (a segment of queued messages, a batch of journal lines). */
  files: number;
  /** Directory fsyncs (making names durable: new segments and journals, removals before a compaction). */
  dirs: number;
  /** Group commits run (each covers every write that asked before it started). */
  commits: number;
  /** Writes those commits covered (messages queued, entry states and removals recorded). */
  committedWrites: number;
}

export function newFsyncStats(): FsyncStats {
  return { files: 0, dirs: 0, commits: 0, committedWrites: 0 };
}

export async function fsyncDir(dir: string, stats?: FsyncStats): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
    if (stats) stats.dirs++;
  } finally {
    await fh.close();
  }
}

/**
 * Writes `parts` to `tmp`, fsyncs it and renames it to `target`. The name is
 * not durable yet: the caller's group commit fsyncs the target directory.
 */
export async function writeDurable(tmp: string, target: string, parts: readonly (string | Buffer)[], stats: FsyncStats): Promise<void> {
  const fh = await open(tmp, 'wx', 0o600);
  try {
    const buffers = parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p));
    // writev may write less than asked (a signal, a nearly full disk): go on from where it stopped.
    while (buffers.length > 0) {
      let { bytesWritten } = await fh.writev(buffers);
      if (bytesWritten === 0) throw new Error(`${tmp}: write made no progress`);
      while (buffers.length > 0 && bytesWritten >= buffers[0]!.length) bytesWritten -= buffers.shift()!.length;
      if (buffers.length > 0 && bytesWritten > 0) buffers[0] = buffers[0]!.subarray(bytesWritten);
    }
    await fh.sync();
    stats.files++;
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
