import { promises as fs } from 'node:fs';
import { folderPaths, newestMarker, queueRoot } from '../smtp/queue';

/**
 * Which queue folders a cluster gateway holds (issue 12). A folder's owner
 * is the member named by its highest epoch marker (smtp/queue/owner.ts).
 * When the hub gave a gone gateway's folder to another gateway, the
 * returning gateway must not claim it back: a higher claim of its own
 * would fence the new owner mid-delivery and could deliver an entry twice.
 * So it starts on a folder of its own that nobody else holds.
 */

/** Suffixed folders tried after the member id itself; each is a DNS label (layout.ts FOLDER_NAME). */
const MAX_SUFFIX = 1000;
/** Room left in a 63-octet DNS label for `-q<n>`. */
const BASE_MAX = 63 - `-q${MAX_SUFFIX}`.length;

/** The folder to own: the member id when never claimed or last claimed by this member, else the first `<id>-q<n>` likewise. */
export async function ownQueueFolder(storagePath: string, memberId: string): Promise<string> {
  const base = memberId.slice(0, BASE_MAX).replace(/-+$/, '');
  for (let n = 1; n <= MAX_SUFFIX; n++) {
    const name = n === 1 ? memberId : `${base}-q${n}`;
    const newest = await newestMarker(folderPaths(storagePath, name));
    if (!newest || newest.memberId === memberId) return name;
  }
  throw new Error(`no free queue folder for ${memberId} after ${MAX_SUFFIX} tries (every one is held by another member)`);
}

/** Folders other than `own` whose newest marker names this member (taken over before a restart): delivered from again at start. */
export async function heldQueueFolders(storagePath: string, memberId: string, own: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await fs.readdir(queueRoot(storagePath), { withFileTypes: true })).filter((d) => d.isDirectory() && d.name !== own).map((d) => d.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const held: string[] = [];
  for (const name of names) if ((await newestMarker(folderPaths(storagePath, name)))?.memberId === memberId) held.push(name);
  return held;
}
