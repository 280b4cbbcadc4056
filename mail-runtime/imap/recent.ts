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
 * Claims live in this process only, in a registry per node (one per store),
 * keyed by user, folder and UIDVALIDITY. RFC 3501 leaves the persistence of
 * `\Recent` to the implementation. Messages that already existed when this
 * process started are never recent after a restart (or a takeover by
 * another node), so a restart does not flood every client with "new" mail;
 * the price is that a message delivered just before a restart and claimed
 * by nobody loses its `\Recent` (RFC 3501 §2.3.2 only SHOULDs the opposite
 * when the server cannot tell). Which messages existed before the start is
 * read from INTERNALDATE the first time this process looks at a folder;
 * from then on arrival order (UIDs) decides.
 */
export class RecentClaims {
  /** Every UID at or below this is claimed, except those in `unclaimedOld`. */
  private seenThrough: number;
  /** Unclaimed UIDs at or below `seenThrough` (found at first sight, or skipped over). */
  private readonly unclaimedOld = new Set<number>();

  constructor(folder: Folder, since: number) {
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
