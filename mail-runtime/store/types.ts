import type { EventEmitter } from 'node:events';
import type { Logger } from '../common/log';

/**
 * Public types of the mailbox store. The IMAP and POP3 servers program
 * against these; everything else in this folder is internal.
 *
 * Folder names in this API are UTF-8 strings with `/` as the hierarchy
 * delimiter (the IMAP layer decodes modified UTF-7 first, see ./mutf7).
 * `INBOX` is case-insensitive and always exists.
 */

/** RFC 6154 special-use attributes the store creates and remembers. */
export type SpecialUse = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive' | '\\All' | '\\Flagged';

/** Hierarchy delimiter of the API (IMAP LIST shows it). */
export const HIERARCHY_DELIMITER = '/';

export type StoreErrorCode =
  | 'OVERQUOTA' // RFC 9208 §4.3 / SMTP 552 5.2.2
  | 'NONEXISTENT' // RFC 5530
  | 'ALREADYEXISTS' // RFC 5530
  | 'STALE_EPOCH' // a newer epoch owns this mailbox (fencing): never acknowledge
  | 'BADNAME' // invalid folder name or address
  | 'CANNOT' // operation not possible (e.g. delete INBOX, bad flag)
  | 'TOOBIG' // message above the store's maxMessageBytes
  | 'IO' // the file system failed (EIO, ENOSPC, EROFS, EACCES...): temporary, the cause is kept
  | 'CORRUPT'; // a file of ours on disk does not hold what we wrote (the message names file and field)

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

export function isStoreError(e: unknown, code?: StoreErrorCode): e is StoreError {
  return e instanceof StoreError && (code === undefined || e.code === code);
}

export interface FolderInfo {
  /** UTF-8, `/`-delimited, INBOX spelled `INBOX`. */
  name: string;
  specialUse?: SpecialUse;
  subscribed: boolean;
  /**
   * LIST attributes: `\HasChildren` or `\HasNoChildren`, plus `\Noselect`
   * for a name that exists only because a child exists (RFC 3501 §6.3.8).
   */
  flags: readonly string[];
}

/** A folder's UIDs and flag bits as typed arrays (Folder.flagColumn()); do not write to them. */
export interface FolderFlagColumn {
  readonly uids: Uint32Array;
  readonly bits: Uint8Array;
}

/** Running counts of a folder's messages (Folder.counts()). */
export interface FolderCounts {
  readonly messages: number;
  /** Without `\Seen` (RFC 3501 §6.3.10 STATUS UNSEEN). */
  readonly unseen: number;
  /** With `\Deleted` (RFC 9051 §6.3.11 STATUS DELETED). */
  readonly deleted: number;
  /** Sum of RFC822.SIZE (RFC 8438 STATUS SIZE). */
  readonly bytes: number;
}

/** One message's metadata; never requires reading the body. Immutable. */
export interface MessageMeta {
  readonly uid: number;
  /** System flags with backslash (`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`), keywords as atoms. Never `\Recent`. */
  readonly flags: readonly string[];
  readonly internalDate: Date;
  /** Size in octets (RFC822.SIZE). */
  readonly size: number;
  /** RFC 7162 MODSEQ of the last change. */
  readonly modseq: number;
  /** RFC 8474 §5.1 EMAILID: given at delivery/APPEND, kept by COPY and MOVE, stable across restarts (./email-id.ts). */
  readonly emailId: string;
}

export interface QuotaLimits {
  storageBytes?: number;
  messages?: number;
}

/** RFC 9208 usage, in bytes (the IMAP layer converts STORAGE to KiB). */
export interface QuotaInfo {
  storageUsed: number;
  storageLimit?: number;
  messagesUsed: number;
  messagesLimit?: number;
}

export interface OpenUserOptions {
  /** Owner epoch (fencing token) given by placement. A higher epoch on disk means we are a zombie. */
  epoch: number;
  /** Re-checked after every durable write and before it resolves (lease still held?). */
  stillOwner?: () => boolean | Promise<boolean>;
  /**
   * Checked (synchronously) before a write batch touches the disk: false
   * refuses that batch (STALE_EPOCH; its folder object dies with `fenced`).
   * A node whose lease has lapsed (a process resumed after a pause) must not
   * write even once before it notices, and a mailbox being moved must take
   * no new writes; stillOwner() alone would only refuse the acknowledgement.
   */
  canWrite?: () => boolean;
  quota?: QuotaLimits;
}

export interface AppendOptions {
  flags?: readonly string[];
  /** Defaults to now. Stored as the file's mtime too (what Dovecot reads). */
  internalDate?: Date;
}

/** append() of one delivered message: AppendOptions plus the delivery's id. */
export interface DeliveryAppendOptions extends AppendOptions {
  /**
   * The id of the queued message this delivery comes from (./deliveries.ts:
   * lowercase letters and digits, 8–40). A folder that accepted the same id
   * within the horizon writes nothing and answers with the first delivery's
   * UID and `duplicate: true`. Not with internalDate (a delivery is dated
   * when it is accepted, RFC 3501 §2.3.3).
   */
  deliveryId?: string;
}

export interface AppendResult {
  uid: number;
  uidValidity: number;
  /** The delivery id was accepted before: nothing was written (`uid` is the first copy's). */
  duplicate?: true;
}

/** One message of a MULTIAPPEND batch (RFC 3502). */
export interface AppendItem {
  raw: Buffer;
  opts?: AppendOptions;
}

export type FlagOperation = 'add' | 'remove' | 'replace';

export interface StoreFlagsOptions {
  /** RFC 7162 §3.1.3 UNCHANGEDSINCE: messages with a higher modseq are not changed and are reported. */
  unchangedSince?: number;
}

export interface StoreFlagsResult {
  /** Messages whose flags actually changed (new flags and modseq). */
  changed: MessageMeta[];
  /** UIDs refused because their modseq was above `unchangedSince`. */
  failedUnchangedSince: number[];
}

export interface ExpungeOptions {
  /**
   * Without `force`, only messages that carry `\Deleted` are expunged
   * (RFC 3501 EXPUNGE, RFC 4315 UID EXPUNGE when `uids` is given).
   * With `force`, the given UIDs are expunged whatever their flags
   * (MOVE, POP3 DELE+QUIT).
   */
  force?: boolean;
}

export interface CopyResult {
  /** UIDVALIDITY of the target (RFC 4315 COPYUID). */
  uidValidity: number;
  /** [source uid, target uid] in source UID order; missing source UIDs are skipped. */
  pairs: [number, number][];
}

export interface FlagsChange {
  uid: number;
  flags: readonly string[];
  modseq: number;
}

export type FolderGoneReason = 'deleted' | 'fenced' | 'io-error';

/** Events a live Folder emits after a change is durable (shared by every session on it). */
export interface FolderEventMap {
  /** New messages (append, copy in, reconcile), ascending UIDs. */
  exists: [uids: number[]];
  flags: [change: FlagsChange];
  /** Expunged UIDs, ascending. */
  expunge: [uids: number[]];
  /**
   * The folder object is dead: deleted, ownership lost to a higher epoch
   * (`fenced`), or a write failed so memory can no longer be trusted
   * (`io-error`; the next open reloads from disk).
   */
  gone: [reason: FolderGoneReason];
}

export interface Folder extends EventEmitter<FolderEventMap> {
  /** Current name (changes if the folder is renamed while open). */
  readonly name: string;
  /** The address of the mailbox the folder belongs to (differs from the session's user for a shared folder). */
  readonly owner: string;
  readonly uidValidity: number;
  readonly uidNext: number;
  readonly highestModseq: number;
  /**
   * RFC 3501 §2.3.2: every UID up to this one has been announced as
   * `\Recent` to some session (persisted: it survives restarts and
   * takeovers). Undefined when not known: an index from before this was
   * kept, or a folder adopted from Dovecot.
   */
  readonly recentUid: number | undefined;
  /** Record that sessions have been told about UIDs up to `uid` as `\Recent` (shares the next group commit). */
  claimRecent(uid: number): Promise<void>;
  /**
   * Metadata in UID order. The returned array is an immutable snapshot:
   * later changes publish a new array, so a session may hold it.
   */
  messages(): readonly MessageMeta[];
  /**
   * Running counts of the current state (kept by every commit, O(1)):
   * STATUS MESSAGES/UNSEEN/DELETED/SIZE and SELECT read them instead of
   * walking 100,000 messages.
   */
  counts(): FolderCounts;
  /**
   * messages() as columns, position for position (the same state when
   * called without an await between): UIDs, and the FLAG_* bits of each
   * message's flags (./index-state.ts). Kept by every commit, O(1);
   * SEARCH on flags walks these instead of the metadata objects. Read-only
   * snapshots, like messages().
   */
  flagColumn(): FolderFlagColumn;
  /** Metadata of one UID, or undefined (binary search, no copy). */
  get(uid: number): MessageMeta | undefined;
  /**
   * RFC 7162 §3.2.5.1: UIDs expunged with a mod-sequence above `modseq`
   * (ascending). `complete` false: older expunges were forgotten (bounded
   * log), so some UIDs expunged since then may be missing from `uids`.
   */
  expungedSince(modseq: number): { uids: number[]; complete: boolean };
  append(raw: Buffer, opts?: DeliveryAppendOptions): Promise<AppendResult>;
  /**
   * Appends all of `items` or none of them (RFC 3502 §6.3.11: a failed
   * MULTIAPPEND leaves the mailbox unchanged), in one group commit, with
   * consecutive UIDs in the order given.
   */
  appendMany(items: readonly AppendItem[]): Promise<{ uids: number[]; uidValidity: number }>;
  store(uids: readonly number[], op: FlagOperation, flags: readonly string[], opts?: StoreFlagsOptions): Promise<StoreFlagsResult>;
  /** Returns the expunged UIDs (ascending). `uids` omitted: every `\Deleted` message. */
  expunge(uids?: readonly number[], opts?: ExpungeOptions): Promise<number[]>;
  copy(uids: readonly number[], target: Folder): Promise<CopyResult>;
  /** RFC 6851: copy, then expunge the sources (whatever their flags). */
  move(uids: readonly number[], target: Folder): Promise<CopyResult>;
  /** The raw message. NONEXISTENT if the UID is unknown or expunged. */
  read(uid: number): Promise<Buffer>;
  /**
   * The raw messages of many UIDs, one promise each in the order given,
   * read together (a FETCH's read-ahead batch): each rejects on its own as
   * read() would. They may be awaited one by one: one failing before it is
   * awaited is not an unhandled rejection.
   */
  readMany(uids: readonly number[]): Promise<Buffer>[];
  /** Cached analyzer result (computed and cached on first use if missing); undefined without an analyzer. */
  getSummary(uid: number): Promise<unknown>;
  /**
   * Summaries of many messages with few reads (SEARCH over a large folder).
   * UIDs that no longer exist are left out; missing cache entries are
   * computed as by getSummary.
   */
  getSummaries(uids: readonly number[]): Promise<Map<number, unknown>>;
  /**
   * The search-fields records (MailStoreOptions.searchFields) of these
   * messages: from memory or `search-fields.bin`, else derived from their
   * summaries (computed if missing) and remembered. UIDs that no longer
   * exist, and messages the deriver declines, are left out. Empty without
   * a deriver.
   */
  searchFields(uids: readonly number[]): Promise<Map<number, readonly string[]>>;
  /** Reconcile with the Maildir files again (picks up files dropped in by hand). */
  refresh(): Promise<void>;
  /**
   * Release this handle. Each openFolder() returns its own handle, so closing
   * one twice releases it once; the shared folder closes with its last handle.
   */
  close(): Promise<void>;
}

export interface UserMailbox {
  readonly address: string;
  readonly epoch: number;
  listFolders(): Promise<FolderInfo[]>;
  /** Subscribed names, including names that no longer exist (LSUB / LIST (SUBSCRIBED) \NonExistent). */
  listSubscriptions(): Promise<string[]>;
  /** Creates missing parents too (RFC 3501 §6.3.3). A trailing `/` is ignored. */
  createFolder(name: string, opts?: { specialUse?: SpecialUse }): Promise<void>;
  /** INBOX cannot be deleted; children survive (the parent then shows \Noselect). */
  deleteFolder(name: string): Promise<void>;
  /** Renames children too. RFC 3501 §6.3.5: renaming INBOX moves its messages and leaves INBOX empty. */
  renameFolder(from: string, to: string): Promise<void>;
  subscribe(name: string): Promise<void>;
  unsubscribe(name: string): Promise<void>;
  /** The shared live Folder for (user, name); close() it when done. */
  openFolder(name: string): Promise<Folder>;
  /** RFC 4314: identifier → rights granted on an existing folder (the owner's own rights are implicit). */
  getAcl(name: string): Promise<Record<string, string>>;
  /** Grants `rights` to `identifier` on an existing folder (empty or null: removes the entry); durable when it resolves. */
  setAcl(name: string, identifier: string, rights: string | null): Promise<void>;
  getQuota(): Promise<QuotaInfo>;
  close(): Promise<void>;
}

/**
 * Builds what FETCH ENVELOPE/BODYSTRUCTURE need from a raw message; may be
 * async. The result must survive JSON (it is cached on disk as JSON).
 */
export type Analyzer = (raw: Buffer) => unknown;

/**
 * Makes a short record of strings from an analyzer result (for the IMAP
 * node: the decoded, case-folded fields SEARCH compares), kept per message
 * in `search-fields.bin` (./fields-cache.ts). `version` names the
 * derivation: records of another version are never used. `derive` returns
 * null for a summary it cannot use (e.g. one from an older analyzer).
 */
export interface SearchFieldsDeriver {
  readonly version: string;
  derive(summary: unknown): readonly string[] | null;
}

export interface MailStoreOptions {
  /** Storage root; mail lives under `<root>/mail/<domain>/<local-part>/`. */
  root: string;
  /**
   * Largest message append() accepts; above it: TOOBIG. The node passes
   * config `limits.maxMessageBytes`; absent, the store sets no cap of its own.
   */
  maxMessageBytes?: number;
  analyze?: Analyzer;
  /** Needs `analyze`: records derived from its results, for fast header searches (Folder.searchFields). */
  searchFields?: SearchFieldsDeriver;
  logger?: Logger;
}

/** Counters for tests and metrics (monotonic). */
export interface StoreStats {
  /** fsyncs of message files. */
  fileFsyncs: number;
  /** Rounds in which message files were fsynced together (one per MULTIAPPEND, COPY or delivery of up to 64 files). */
  fileSyncRounds: number;
  /** fsyncs of directories (cur/, meta). */
  dirFsyncs: number;
  /** fsyncs of index logs and snapshots. */
  indexFsyncs: number;
  /** Group-commit batches written. */
  commits: number;
  /** Operations committed (append, copy item, store, expunge...). */
  operations: number;
  /** Message bodies read from disk (read(), analysis). */
  messageReads: number;
  /** Analyzer invocations. */
  analyzerCalls: number;
  /** Folder opens that skipped the directory reconcile: closed cleanly and cur/ new/ unchanged since. */
  rescansSkipped: number;
  /** Folder opens whose index came from the binary cache (index.bin), and those that read the snapshot and logs. */
  indexCacheHits: number;
  indexCacheMisses: number;
}
