import type { DirectoryUser } from '../auth';
import type { Logger } from '../common/log';
import type { DeliveryFolder, LocalDelivery } from '../smtp/lmtp';
import { isStoreError, type Folder, type MailStore, type UserMailbox } from '../store';
import { openUserMailbox, type MailboxPlacement } from './mailboxes';

/**
 * Final delivery into the store (LMTP, and submission to a mailbox this
 * node serves): the same path as IMAP APPEND — the folder's group commit,
 * fsync before the promise resolves, ownership re-checked after the write.
 * A delivery with an id the folder already accepted writes nothing
 * (../store/deliveries.ts).
 *
 * Folders a delivery opened stay open for a short while: opening a folder
 * reconciles it with its Maildir (a directory scan), which a stream of
 * deliveries to one mailbox must not pay per message. The store shares one
 * live folder per (user, folder) with IMAP sessions, so nothing here hides
 * a message from them.
 */

/** A mailbox folder idle this long after its last delivery is closed. */
const IDLE_CLOSE_MS = 10_000;
/** Folders kept open for deliveries at most; the least recently used closes first. */
const MAX_OPEN = 512;

interface Cached {
  folder: Folder;
  timer?: NodeJS.Timeout;
}

export interface StoreDelivery extends LocalDelivery {
  /** Closes the folders kept open (before the store closes). */
  close(): Promise<void>;
}

/** RFC 6154 \Junk: the folder that carries it, created as `Junk` when the user has none. */
async function junkFolderName(mailbox: UserMailbox): Promise<string> {
  const found = (await mailbox.listFolders()).find((f) => f.specialUse === '\\Junk');
  if (found) return found.name;
  try {
    await mailbox.createFolder('Junk', { specialUse: '\\Junk' });
  } catch (err) {
    // A folder named Junk without the attribute (or a concurrent delivery made it): use it.
    if (!isStoreError(err, 'ALREADYEXISTS')) throw err;
  }
  return 'Junk';
}

export function storeDelivery(store: MailStore, placement: MailboxPlacement, log: Logger): StoreDelivery {
  const cache = new Map<string, Promise<Cached>>();
  let closed = false;

  const drop = async (key: string, entry: Promise<Cached>): Promise<void> => {
    if (cache.get(key) !== entry) return;
    cache.delete(key);
    try {
      const c = await entry;
      clearTimeout(c.timer);
      await c.folder.close();
    } catch (err) {
      // An opening that failed was already reported to its delivery; a failed close is worth a line only.
      log.debug({ err, key }, 'delivery folder closed with an error');
    }
  };

  /** The cached folder for (user, which), opened through this delivery's mailbox handle when missing. */
  const folderFor = (mailbox: UserMailbox, which: DeliveryFolder): { key: string; entry: Promise<Cached> } => {
    const key = `${mailbox.address}\u0000${which}`;
    let entry = cache.get(key);
    if (entry) {
      // Most recently used last (a Map keeps insertion order).
      cache.delete(key);
      cache.set(key, entry);
      return { key, entry };
    }
    const opening = (async (): Promise<Cached> => {
      const folder = await mailbox.openFolder(which === 'junk' ? await junkFolderName(mailbox) : 'INBOX');
      // A folder that dies (fenced by a newer owner, deleted, I/O error) is never used again.
      folder.once('gone', () => void drop(key, opening));
      return { folder };
    })();
    entry = opening;
    cache.set(key, entry);
    opening.catch(() => {
      if (cache.get(key) === opening) cache.delete(key);
    });
    while (cache.size > MAX_OPEN) {
      const [oldest, value] = cache.entries().next().value as [string, Promise<Cached>];
      void drop(oldest, value);
    }
    return { key, entry };
  };

  return {
    async deliver(user: DirectoryUser, message: Buffer, { folder: which, deliveryId }: { folder: DeliveryFolder; deliveryId?: string }) {
      if (closed) throw new Error('delivery is closed');
      // Opened for every delivery: cheap while the mailbox is live, and it
      // applies the directory's current quota and placement's current epoch
      // (a newer epoch fences the folders cached under the old one).
      const mailbox = await openUserMailbox(store, placement, user);
      try {
        const { key, entry } = folderFor(mailbox, which);
        const c = await entry;
        clearTimeout(c.timer);
        try {
          const res = await c.folder.append(message, deliveryId === undefined ? {} : { deliveryId });
          return { duplicate: res.duplicate === true };
        } catch (err) {
          // Fenced, I/O error, a folder gone: open afresh next time. Quota and size leave the folder as it was.
          if (!isStoreError(err, 'OVERQUOTA') && !isStoreError(err, 'TOOBIG')) await drop(key, entry);
          throw err;
        } finally {
          if (cache.get(key) === entry) {
            c.timer = setTimeout(() => void drop(key, entry), IDLE_CLOSE_MS);
            c.timer.unref();
          }
        }
      } finally {
        await mailbox.close();
      }
    },
    async close() {
      closed = true;
      await Promise.all([...cache.entries()].map(([key, entry]) => drop(key, entry)));
    },
  };
}
