import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MailStore, type Folder } from '../../mail-runtime/store';
import type { MailStoreOptions } from '../../mail-runtime/store/types';

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

/**
 * Opens a store on `root`, the user at `epoch` (1 unless given) and their
 * INBOX, runs `fn`, and closes the store whatever happens: one open and
 * clean close of a folder, as a session's SELECT … LOGOUT would do.
 */
export async function withInbox<T>(
  root: string,
  address: string,
  fn: (inbox: Folder, store: MailStore) => Promise<T>,
  opts: { epoch?: number; store?: Omit<MailStoreOptions, 'root'> } = {},
): Promise<T> {
  const store = new MailStore({ ...opts.store, root });
  try {
    const user = await store.openUser(address, { epoch: opts.epoch ?? 1 });
    return await fn(await user.openFolder('INBOX'), store);
  } finally {
    await store.close();
  }
}
