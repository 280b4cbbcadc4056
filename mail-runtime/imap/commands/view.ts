import type { Folder, FolderGoneReason, MessageMeta } from '../../store';
import { SYSTEM_FLAGS, atom, data, formatSequenceSet, list, num, untagged, type ImapResponse, type ResponseValue } from '../protocol';
import type { RecentClaims } from '../recent';
import { ALL_RIGHTS } from './rights';

/**
 * One session's view of its selected mailbox (RFC 3501 §2.3.1.2): the
 * message sequence numbers it has been told about, and the changes other
 * sessions made that it still has to announce.
 *
 * The store's Folder is shared by every session on the mailbox and emits
 * events once a change is durable. A view only marks itself dirty on an
 * event; at the next notification point it compares its sequence list with
 * the folder's current snapshot (a merge of two sorted lists) and produces
 * EXPUNGE / EXISTS / FETCH responses. So a view never announces something
 * that is not durable, and never announces anything twice.
 *
 * `\Recent` (RFC 3501 §2.3.2, see ../recent.ts): a read-write view claims
 * the unclaimed messages it sees at SELECT and each batch of new mail it is
 * the first to be told about; those are recent in this session only. A
 * read-only view (EXAMINE) claims nothing but reports the messages nobody
 * has claimed yet as recent (RFC 3501 §6.3.2: EXAMINE leaves `\Recent` as
 * it is, and the RECENT response still counts them).
 *
 * Keywords (RFC 3501 §7.2.6): the view remembers the keywords it has
 * listed in FLAGS; when a message it is about to show carries one it has not
 * listed (a STORE here or elsewhere, new mail), FLAGS and PERMANENTFLAGS go
 * out first, so a client never sees a flag its FLAGS list lacks.
 */
export class MailboxView {
  /** Sequence number n ↔ uids[n - 1]. Ascending. */
  private uids: number[];
  /** Highest UID announced to the client (new mail is anything above). */
  private maxUid: number;
  private dirty = false;
  private readonly flagDirty = new Set<number>();
  /** UIDs that are `\Recent` in this session (always a subset of `uids`). */
  private readonly recent = new Set<number>();
  /** The RECENT count the client was last told. */
  private announcedRecent: number;
  /** Keywords listed in FLAGS so far, lower case → spelling (keywords compare case-insensitively, see protocol/flags.ts). */
  private readonly keywords = new Map<string, string>();
  private readonly listeners: { exists: () => void; expunge: () => void; flags: (c: { uid: number }) => void; gone: (r: FolderGoneReason) => void };
  goneReason: FolderGoneReason | undefined;
  /** QRESYNC is enabled: expunges are announced as `* VANISHED` (RFC 7162 §3.2.10), not EXPUNGE. */
  vanishedResponses = false;
  /**
   * The search result variable `$` (RFC 5182 §2.1): UIDs, ascending, saved
   * by SEARCH RETURN (SAVE). Empty at SELECT/EXAMINE, since every select
   * makes a new view (§2.1: reset when a mailbox is selected).
   */
  savedSearch: readonly number[] = [];
  /**
   * `\Recent` and RECENT responses are shown (IMAP4rev1). RFC 9051
   * Appendix E item 12 deprecates them and Appendix A says a server that
   * offers both revisions sends them only to IMAP4rev1 clients: false after
   * ENABLE IMAP4rev2. The view still claims the messages, so other sessions
   * see what they would have seen.
   */
  showRecent = true;
  /**
   * Counts the folder's changes (any session's, this one's too): kept
   * searches (RFC 5267 §4.2 UPDATE, context-update.ts) run again when it moved.
   */
  changes = 0;
  /** The session user's RFC 4314 rights on this mailbox (all of them for her own; shared.ts). */
  rights = ALL_RIGHTS;

  constructor(
    readonly folder: Folder,
    /** IMAP name as the client sent it (modified UTF-7), for responses. */
    readonly imapName: string,
    readonly readOnly: boolean,
    private readonly onChange: () => void,
    /** The folder's \Recent claims; a read-only view only looks at them (RFC 3501 §6.3.2). */
    private readonly claims?: RecentClaims,
  ) {
    const msgs = folder.messages();
    this.uids = msgs.map((m) => m.uid);
    for (const m of msgs) this.learnKeywords(m.flags);
    this.maxUid = Math.max(this.uids.length ? this.uids[this.uids.length - 1] : 0, folder.uidNext - 1);
    for (const uid of this.takeRecent(this.uids)) this.recent.add(uid);
    this.announcedRecent = this.recent.size;
    this.listeners = {
      exists: () => this.mark(),
      expunge: () => this.mark(),
      flags: (c) => {
        this.changes++;
        this.flagDirty.add(c.uid);
        this.onChange();
      },
      gone: (r) => {
        this.goneReason = r;
        this.onChange();
      },
    };
    folder.on('exists', this.listeners.exists);
    folder.on('expunge', this.listeners.expunge);
    folder.on('flags', this.listeners.flags);
    folder.on('gone', this.listeners.gone);
  }

  /** The new messages that are recent in this view: claimed (read-write), or still unclaimed (read-only). */
  private takeRecent(uids: readonly number[]): readonly number[] {
    const claims = this.claims;
    if (!claims) return [];
    return this.readOnly ? uids.filter((uid) => claims.isUnclaimed(uid)) : claims.claim(this.folder, uids);
  }

  /** Adds the keywords among `flags` not listed yet; true if there was one. */
  private learnKeywords(flags: readonly string[]): boolean {
    let added = false;
    for (const f of flags) {
      if (f.startsWith('\\')) continue;
      const key = f.toLowerCase();
      if (this.keywords.has(key)) continue;
      this.keywords.set(key, f);
      added = true;
    }
    return added;
  }

  /**
   * RFC 3501 §7.2.6 FLAGS and §7.1 PERMANENTFLAGS: the system flags and
   * every keyword listed so far (sorted). Read-write: `\*`, clients may
   * make new keywords; read-only: nothing is permanent.
   */
  flagsAnnouncement(): ImapResponse[] {
    const flags: ResponseValue[] = [...SYSTEM_FLAGS, ...[...this.keywords.values()].sort()].map(atom);
    return [
      data(atom('FLAGS'), list(flags)),
      untagged('OK', this.readOnly ? 'Read-only mailbox' : 'Flags permitted', {
        name: 'PERMANENTFLAGS',
        args: [list(this.readOnly ? [] : [...flags, atom('\\*')])],
      }),
    ];
  }

  /**
   * FLAGS and PERMANENTFLAGS to send before showing these flag lists, when
   * they hold a keyword not listed yet; else nothing. The new list has every
   * keyword of the folder (one FLAGS response, not one per keyword), like
   * the one SELECT sends.
   */
  keywordUpdate(flagLists: Iterable<readonly string[]>): ImapResponse[] {
    let added = false;
    for (const flags of flagLists) if (this.learnKeywords(flags)) added = true;
    if (!added) return [];
    for (const m of this.folder.messages()) this.learnKeywords(m.flags);
    return this.flagsAnnouncement();
  }

  /**
   * Keywords spelled as the mailbox already spells them (the first spelling
   * wins, as in FLAGS), so one keyword does not appear twice in different
   * case. Looks through the folder only for keywords this view has not listed.
   */
  spellKeywords(flags: readonly string[]): string[] {
    let folderSpellings: Map<string, string> | undefined;
    return flags.map((f) => {
      if (f.startsWith('\\')) return f;
      const key = f.toLowerCase();
      const known = this.keywords.get(key);
      if (known !== undefined) return known;
      if (!folderSpellings) {
        folderSpellings = new Map();
        for (const m of this.folder.messages()) {
          for (const k of m.flags) if (!k.startsWith('\\') && !folderSpellings.has(k.toLowerCase())) folderSpellings.set(k.toLowerCase(), k);
        }
      }
      return folderSpellings.get(key) ?? f;
    });
  }

  private mark(): void {
    this.changes++;
    this.dirty = true;
    this.onChange();
  }

  get count(): number {
    return this.uids.length;
  }

  /** UID at a sequence number (1-based). */
  uidAt(seq: number): number | undefined {
    return this.uids[seq - 1];
  }

  /** Sequence number of a UID, 0 when not in the view. */
  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.uids[mid];
      if (v === uid) return mid + 1;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** The view's UIDs (ascending, read-only snapshot). */
  allUids(): readonly number[] {
    return this.uids;
  }

  /** Messages that are `\Recent` in this session (the SELECT `* n RECENT`). */
  get recentCount(): number {
    return this.recent.size;
  }

  isRecent(uid: number): boolean {
    return this.recent.has(uid);
  }

  /** FLAGS as this session sees them: the stored flags plus `\Recent` (never stored, RFC 3501 §2.3.2). */
  flagsOf(meta: MessageMeta): ResponseValue {
    const flags = meta.flags.map(atom);
    if (this.showRecent && this.recent.has(meta.uid)) flags.push(atom('\\Recent'));
    return list(flags);
  }

  /** Largest UID in the view, for `*` in UID sets (RFC 3501 §9: `*` is the largest UID in use). */
  get lastUid(): number {
    return this.uids.length ? this.uids[this.uids.length - 1] : 0;
  }

  /** Metadata for the view's messages still present in the folder, with their sequence numbers. */
  metas(uids: readonly number[]): { seq: number; meta: MessageMeta }[] {
    const out: { seq: number; meta: MessageMeta }[] = [];
    for (const uid of uids) {
      const seq = this.seqOf(uid);
      const meta = this.folder.get(uid);
      if (seq && meta) out.push({ seq, meta });
    }
    return out;
  }

  /** Our own STORE already reported these; do not announce them again. */
  ackFlags(uids: readonly number[]): void {
    for (const u of uids) this.flagDirty.delete(u);
  }

  /** Those of `uids` whose flags another session changed and this one was not told yet. */
  flagsPending(uids: readonly number[]): Set<number> {
    const out = new Set<number>();
    if (this.flagDirty.size) for (const u of uids) if (this.flagDirty.has(u)) out.add(u);
    return out;
  }

  /** Pending changes to announce? */
  get hasPending(): boolean {
    return this.dirty || this.flagDirty.size > 0;
  }

  /**
   * The untagged responses that bring the client up to date.
   * `allowExpunge` false (during FETCH/STORE/SEARCH, RFC 3501 §7.4.1): expunged
   * messages keep their sequence numbers for now and only EXISTS/FETCH are sent.
   *
   * The view's state is brought up to date as soon as iteration starts; the
   * flag FETCH responses (one per message changed elsewhere: 100,000 after a
   * STORE 1:* in another session) are made as they are consumed, so the
   * caller can send them a slice at a time. Consume it before the view is
   * used again.
   */
  *notifications(opts: { allowExpunge: boolean; condstore: boolean }): Generator<ImapResponse> {
    const out: ImapResponse[] = [];
    /** Flags of the messages these responses show: a keyword among them not listed yet needs FLAGS first. */
    const shownFlags: (readonly string[])[] = [];
    if (this.dirty) {
      const current = this.folder.messages();
      if (opts.allowExpunge) {
        out.push(...this.expungeMissing(current));
        this.dirty = false;
      }
      const fresh: number[] = [];
      // New UIDs are above maxUid; walk from the end of the sorted snapshot.
      let i = current.length - 1;
      while (i >= 0 && current[i].uid > this.maxUid) i--;
      for (let j = i + 1; j < current.length; j++) {
        fresh.push(current[j].uid);
        shownFlags.push(current[j].flags);
      }
      if (fresh.length) {
        this.uids = this.uids.concat(fresh);
        this.maxUid = fresh[fresh.length - 1];
        out.push(data(num(this.uids.length), atom('EXISTS')));
        for (const uid of this.takeRecent(fresh)) this.recent.add(uid);
        // RFC 3501 §7.3.2: RECENT follows a change of the mailbox size; sent when the count changed.
        if (this.showRecent && this.recent.size !== this.announcedRecent) {
          this.announcedRecent = this.recent.size;
          out.push(data(num(this.recent.size), atom('RECENT')));
        }
      }
    }
    const uids = [...this.flagDirty].sort((a, b) => a - b);
    this.flagDirty.clear();
    for (const uid of uids) shownFlags.push(this.folder.get(uid)?.flags ?? []);
    // RFC 3501 §7.2.6: the new FLAGS list before any response that shows a new keyword.
    yield* this.keywordUpdate(shownFlags);
    yield* out;
    for (const uid of uids) {
      const seq = this.seqOf(uid);
      const meta = this.folder.get(uid);
      if (seq && meta) yield flagsFetch(seq, this.flagsOf(meta), meta, { uid: true, modseq: opts.condstore });
    }
  }

  /**
   * Removes UIDs that are gone from the folder and returns the EXPUNGE
   * responses, each numbered against the view as it is at that moment.
   */
  private expungeMissing(current: readonly MessageMeta[]): ImapResponse[] {
    const out: ImapResponse[] = [];
    const kept: number[] = [];
    const gone: number[] = [];
    let j = 0;
    for (let i = 0; i < this.uids.length; i++) {
      const uid = this.uids[i];
      while (j < current.length && current[j].uid < uid) j++;
      if (j < current.length && current[j].uid === uid) kept.push(uid);
      else {
        if (this.vanishedResponses) gone.push(uid);
        else out.push(data(num(kept.length + 1), atom('EXPUNGE')));
        this.recent.delete(uid);
      }
    }
    this.uids = kept;
    if (gone.length) out.push(vanishedNow(gone));
    return out;
  }

  /** Announces our own expunge at once (EXPUNGE, CLOSE, MOVE reply before the tagged OK). */
  expungeNow(): ImapResponse[] {
    const out = this.expungeMissing(this.folder.messages());
    return out;
  }

  detach(): void {
    this.folder.off('exists', this.listeners.exists);
    this.folder.off('expunge', this.listeners.expunge);
    this.folder.off('flags', this.listeners.flags);
    this.folder.off('gone', this.listeners.gone);
  }

  async close(): Promise<void> {
    this.detach();
    await this.folder.close();
  }
}

/** `* seq FETCH (FLAGS (...) [UID n] [MODSEQ (m)])`, the unsolicited flag update; `flags` from MailboxView.flagsOf. */
export function flagsFetch(seq: number, flags: ResponseValue, meta: MessageMeta, opts: { uid: boolean; modseq: boolean }): ImapResponse {
  const items: ResponseValue[] = [atom('FLAGS'), flags];
  if (opts.uid) items.push(atom('UID'), num(meta.uid));
  if (opts.modseq) items.push(atom('MODSEQ'), list([num(meta.modseq)]));
  return data(num(seq), atom('FETCH'), list(items));
}

/** `* VANISHED uids` (RFC 7162 §3.2.10): what a QRESYNC session gets instead of EXPUNGE responses. */
function vanishedNow(uids: readonly number[]): ImapResponse {
  return data(atom('VANISHED'), atom(formatSequenceSet([...uids].sort((a, b) => a - b))));
}
