import { performance } from 'node:perf_hooks';
import { HIERARCHY_DELIMITER, type Folder } from '../store';

/**
 * `\Recent` (RFC 3501 §2.3.2): a message is recent for exactly one session,
 * the first one to be told about it — the first session that SELECTs the
 * mailbox read-write after the message arrived, or the read-write session
 * that already had it selected when it arrived and is notified first.
 * EXAMINE never claims (RFC 3501 §6.3.2: it must not make messages lose
 * `\Recent`); a read-only session reports the messages nobody has claimed
 * yet as recent, and STATUS RECENT counts them.
 *
 * Claims live in a registry per node (one per store), keyed by user,
 * folder and UIDVALIDITY, and are persisted in the folder's index as the
 * highest claimed UID (`Folder.recentUid`, `claimRecent`), the way Dovecot
 * keeps its first-recent UID: after a restart, or a takeover by another
 * node, exactly the messages nobody was told about are still recent — a
 * message delivered just before a restart keeps its `\Recent` (RFC 3501
 * §2.3.2), and one already claimed is not announced again. The record
 * shares the folder's next group commit; a crash before it is durable
 * announces those messages once more (never the reverse).
 *
 * A folder whose index does not know (written before this was kept, or
 * adopted from Dovecot, whose claims are in its binary index) falls back to
 * INTERNALDATE the first time this process looks at it: messages from
 * before the process started are old. From its first claim on, the
 * persisted UID decides.
 */
export class RecentClaims {
  /** Every UID at or below this is claimed, except those in `unclaimedOld`. */
  private seenThrough: number;
  /** Unclaimed UIDs at or below `seenThrough` (found at first sight, or skipped over). */
  private readonly unclaimedOld = new Set<number>();

  constructor(folder: Folder, since: number) {
    const persisted = folder.recentUid;
    if (persisted !== undefined) {
      this.seenThrough = persisted;
      return;
    }
    const msgs = folder.messages();
    const last = msgs.length ? msgs[msgs.length - 1].uid : 0;
    this.seenThrough = Math.max(last, folder.uidNext - 1);
    for (const m of msgs) if (m.internalDate.getTime() >= since) this.unclaimedOld.add(m.uid);
  }

  isUnclaimed(uid: number): boolean {
    return uid > this.seenThrough || this.unclaimedOld.has(uid);
  }

  /**
   * Claims, for the calling session, those of `uids` that nobody has
   * claimed yet and returns them (ascending). Messages of the folder that
   * lie below the highest claimed UID but were not in `uids` stay unclaimed.
   */
  claim(folder: Folder, uids: readonly number[]): number[] {
    const out: number[] = [];
    let top = this.seenThrough;
    for (const uid of uids) {
      if (uid > this.seenThrough) {
        out.push(uid);
        if (uid > top) top = uid;
      } else if (this.unclaimedOld.delete(uid)) {
        out.push(uid);
      }
    }
    if (top > this.seenThrough) {
      const taken = new Set(out);
      const msgs = folder.messages();
      for (let i = msgs.length - 1; i >= 0 && msgs[i].uid > this.seenThrough; i--) {
        const uid = msgs[i].uid;
        if (uid <= top && !taken.has(uid)) this.unclaimedOld.add(uid);
      }
      this.seenThrough = top;
      // Persisted in the background: a failure (folder closed, storage error) costs only a repeated \Recent after a restart.
      folder.claimRecent(top).catch(() => undefined);
    }
    return out.sort((a, b) => a - b);
  }

  /** Messages of the folder nobody has claimed (STATUS RECENT). */
  countUnclaimed(folder: Folder): number {
    const msgs = folder.messages();
    let n = 0;
    for (let i = msgs.length - 1; i >= 0 && msgs[i].uid > this.seenThrough; i--) n++;
    for (const uid of [...this.unclaimedOld]) {
      if (folder.get(uid)) n++;
      else this.unclaimedOld.delete(uid); // expunged: forget it
    }
    return n;
  }
}

/** The claims of every folder one node serves. */
export class RecentRegistry {
  private readonly folders = new Map<string, RecentClaims>();

  /** `since`: messages with an INTERNALDATE before this (ms) are old at first sight; default the process start. */
  constructor(private readonly since: number = performance.timeOrigin) {}

  /** The claims of a folder, created the first time this process looks at it. */
  of(address: string, folder: Folder): RecentClaims {
    const key = keyOf(address, folder.name, folder.uidValidity);
    let claims = this.folders.get(key);
    if (!claims) {
      claims = new RecentClaims(folder, this.since);
      this.folders.set(key, claims);
    }
    return claims;
  }

  /** RENAME moved `from` (and its children) to `to`: their claims move along (UIDVALIDITY is kept). */
  renamed(address: string, from: string, to: string): void {
    for (const [key, claims] of [...this.folders]) {
      const k = parseKey(key);
      if (k.address !== address) continue;
      let name: string | undefined;
      if (k.folder === from) name = to;
      else if (k.folder.startsWith(from + HIERARCHY_DELIMITER)) name = to + k.folder.slice(from.length);
      if (name === undefined) continue;
      this.folders.delete(key);
      this.folders.set(keyOf(address, name, k.uidValidity), claims);
    }
  }

  /** DELETE: a folder created again under the name gets a new UIDVALIDITY anyway; this only frees memory. */
  deleted(address: string, name: string): void {
    for (const key of [...this.folders.keys()]) {
      const k = parseKey(key);
      if (k.address === address && k.folder === name) this.folders.delete(key);
    }
  }

  /** Folders with claims (for tests and metrics). */
  get size(): number {
    return this.folders.size;
  }
}

const SEP = '\u0000'; // cannot occur in an address or a folder name (the store refuses NUL)

function keyOf(address: string, folder: string, uidValidity: number): string {
  return `${address}${SEP}${folder}${SEP}${uidValidity}`;
}

function parseKey(key: string): { address: string; folder: string; uidValidity: number } {
  const [address, folder, v] = key.split(SEP);
  return { address, folder, uidValidity: Number(v) };
}

const registries = new WeakMap<object, RecentRegistry>();

/**
 * The registry of one node: keyed by an object every session of the node
 * shares (the mailbox provider, which stands for the store), so two nodes
 * in one process (tests) never share claims, while the IMAP and IMAPS
 * listeners of one node do.
 */
export function recentRegistryFor(scope: object): RecentRegistry {
  let r = registries.get(scope);
  if (!r) {
    r = new RecentRegistry();
    registries.set(scope, r);
  }
  return r;
}
