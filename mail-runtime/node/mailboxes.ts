import { isSharedOwner, type Directory, type DirectoryUser, type Identity } from '../auth';
import type { MailStore, QuotaLimits, UserMailbox } from '../store';
import type { MailboxProvider } from '../imap';
import { MaildropInUseError, type Pop3Backend, type Pop3Maildrop } from '../pop3';
import type { OwnsMailbox } from '../smtp/lmtp';

/**
 * Which owner epoch this node holds for a mailbox, and optionally the lease
 * checks the store runs around each write (node/cluster.ts supplies both
 * from the placement; a lone node uses a constant).
 */
export type EpochSource = (address: string) => number | OwnedEpoch | Promise<number | OwnedEpoch>;
export interface OwnedEpoch {
  epoch: number;
  stillOwner?: () => boolean | Promise<boolean>;
  canWrite?: () => boolean;
}

/**
 * What placement tells the node about a mailbox: the epoch it holds, and
 * whether it serves it now. Every mailbox the node opens (IMAP, POP3,
 * delivery) gets `owns` as the store's lease check (`stillOwner`), asked
 * after each durable write and before it is acknowledged (DESIGN.md), so a
 * node that lost the mailbox acknowledges nothing.
 */
export interface MailboxPlacement {
  epochOf: EpochSource;
  owns: OwnsMailbox;
}

function quotaOf(user: DirectoryUser): QuotaLimits | undefined {
  if (!user.quota) return undefined;
  const q: QuotaLimits = {};
  if (user.quota.bytes !== undefined) q.storageBytes = user.quota.bytes;
  if (user.quota.messages !== undefined) q.messages = user.quota.messages;
  return q;
}

/** The user's mailbox with the directory's quota, the epoch this node holds for it and the lease check (IMAP, POP3, delivery). */
export async function openUserMailbox(store: MailStore, placement: MailboxPlacement, user: DirectoryUser): Promise<UserMailbox> {
  const quota = quotaOf(user);
  const e = await placement.epochOf(user.address);
  // A cluster node's epoch source brings its own lease checks (node/cluster.ts); otherwise `owns` is the check.
  const owned: OwnedEpoch = typeof e === 'number' ? { epoch: e } : e;
  return store.openUser(user.address, {
    stillOwner: () => placement.owns(user.address),
    ...owned,
    ...(quota ? { quota } : {}),
  });
}

/** Node options for the `Shared/` namespace (RuntimeConfig `sharedFolders`). */
export interface SharedFolderOptions {
  /** Per domain, the users who administer its `Shared/` tree. */
  admins: Readonly<Record<string, readonly string[]>>;
}

/**
 * IMAP sessions get a handle on the user's mailbox (the store shares the
 * state between handles). Another user's mailbox (shared folders) is opened
 * only when the directory knows her and placement says this node serves her
 * mailbox now: one node serves a mailbox (DESIGN.md), so a grantee placed
 * elsewhere is told `elsewhere`, never given a second writer. A domain's
 * shared pseudo-owner (`Shared/`) is in no directory: it is opened on the
 * same placement terms, without a quota.
 */
export function storeMailboxProvider(
  store: MailStore,
  placement: MailboxPlacement,
  directory?: Directory,
  shared?: SharedFolderOptions,
): MailboxProvider & { applySharedFolders(o: SharedFolderOptions | undefined): void } {
  const adminsOf = (o: SharedFolderOptions | undefined): Set<string> => {
    const out = new Set<string>();
    // Only a domain's own users administer its tree (both schemas refuse others; checked again here).
    for (const [domain, users] of Object.entries(o?.admins ?? {})) for (const u of users) if (u.toLowerCase().endsWith(`@${domain.toLowerCase()}`)) out.add(u.toLowerCase());
    return out;
  };
  let admins = adminsOf(shared);
  return {
    /** Cluster settings `sharedFolders` (undefined: the configured ones again); sessions see it at their next command. */
    applySharedFolders(o) {
      admins = adminsOf(o ?? shared);
    },
    async open(user) {
      const mailbox = await openUserMailbox(store, placement, user);
      return { mailbox, release: () => mailbox.close() };
    },
    async openOther(address) {
      const key = address.toLowerCase();
      const user = isSharedOwner(key) ? { address: key } : directory ? await directory.lookup(key) : null;
      // An alias is not a mailbox: only the canonical address names one.
      if (!user || user.address.toLowerCase() !== key) return 'unknown';
      if (!(await placement.owns(user.address))) return 'elsewhere';
      const mailbox = await openUserMailbox(store, placement, user);
      return { mailbox, release: () => mailbox.close() };
    },
    async sharingWith(address, max) {
      const me = address.toLowerCase();
      const out: string[] = [];
      for (const a of await store.usersOfDomain(me.slice(me.lastIndexOf('@') + 1), max)) {
        // The pseudo-owner's folders show under Shared/, not Other Users/.
        if (a === me || isSharedOwner(a) || !(await placement.owns(a))) continue;
        const ids = await store.aclIdentifiers(a);
        if (ids.has(me) || ids.has('anyone')) out.push(a);
      }
      return out;
    },
    sharedAdmin: (address) => admins.has(address.toLowerCase()),
    identify: (address) => identify(directory, address),
  };
}

/** RFC 4314 §2 identifiers through the directory; one without `identify` answers through `lookup` (a one-to-one alias is her user). */
async function identify(directory: Directory | undefined, address: string): Promise<Identity> {
  if (!directory) return { kind: 'unknown' };
  if (directory.identify) return directory.identify(address);
  const user = await directory.lookup(address);
  return user ? { kind: 'user', address: user.address.toLowerCase() } : { kind: 'unknown' };
}

/**
 * POP3 sees INBOX only (RFC 1939 has one maildrop). The unique id joins
 * UIDVALIDITY and UID, so it never repeats even if the folder is recreated.
 */
export function storePop3Backend(store: MailStore, placement: MailboxPlacement): Pop3Backend {
  // The maildrop lock (RFC 1939 §4). Per process is enough: a mailbox is
  // served by exactly one node at a time (DESIGN.md), and that node is us.
  const locked = new Set<string>();
  return {
    async openMaildrop(user): Promise<Pop3Maildrop> {
      const key = user.address.toLowerCase();
      if (locked.has(key)) throw new MaildropInUseError(user.address);
      locked.add(key);
      let mailbox;
      let folder;
      try {
        mailbox = await openUserMailbox(store, placement, user);
        folder = await mailbox.openFolder('INBOX');
      } catch (err) {
        await mailbox?.close();
        locked.delete(key);
        throw err;
      }
      const opened = mailbox;
      const inbox = folder;
      return {
        list: async () => inbox.messages().map((m) => ({ uid: m.uid, size: m.size, uniqueId: `${inbox.uidValidity}.${m.uid}` })),
        read: (uid) => inbox.read(uid),
        // DELE marks, QUIT removes: whatever the flags (RFC 1939 §6 UPDATE).
        expunge: (uids) => inbox.expunge(uids, { force: true }),
        close: async () => {
          try {
            await inbox.close();
            await opened.close();
          } finally {
            locked.delete(key);
          }
        },
      };
    },
  };
}
