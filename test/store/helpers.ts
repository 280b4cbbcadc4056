import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A fresh storage root per test; removed by the returned cleanup.
 * `memory`: on tmpfs when the machine has one (bulk fixtures of thousands of
 * files; fsync semantics do not matter there).
 */
export async function tempRoot(opts: { memory?: boolean } = {}): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const base = opts.memory && fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const root = await fs.promises.mkdtemp(path.join(base, 'mailfleet-store-'));
  return { root, cleanup: () => fs.promises.rm(root, { recursive: true, force: true }) };
}

export function userDir(root: string, address: string): string {
  const [local, domain] = address.toLowerCase().split('@');
  return path.join(root, 'mail', domain, local);
}

export function msg(i: number | string, body = 'hello'): Buffer {
  return Buffer.from(`From: a@example.org\r\nTo: b@example.org\r\nSubject: test ${i}\r\nMessage-ID: <${i}@example.org>\r\n\r\n${body} ${i}\r\n`);
}
