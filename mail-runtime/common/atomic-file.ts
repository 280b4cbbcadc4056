import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces a small file atomically: write a temporary file beside it, then
 * rename(2) over the target, so a reader (on this host or over NFS) sees the
 * old or the new content, never a torn one. `durable` adds an fsync of the
 * file before the rename (a crash cannot leave an empty file behind).
 */
export async function writeFileAtomic(file: string, data: string | Buffer, opts: { durable?: boolean; mode?: number } = {}): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await fs.open(tmp, 'w', opts.mode ?? 0o600);
  try {
    await fh.writeFile(data);
    if (opts.durable) await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}
