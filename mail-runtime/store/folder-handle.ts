import { EventEmitter } from 'node:events';
import { guard } from './errors';
import type { FolderImpl } from './folder';
import {
  StoreError,
  type AppendItem,
  type AppendResult,
  type DeliveryAppendOptions,
  type CopyResult,
  type ExpungeOptions,
  type FlagOperation,
  type Folder,
  type FolderCounts,
  type FolderFlagColumn,
  type FolderEventMap,
  type MessageMeta,
  type StoreFlagsOptions,
  type StoreFlagsResult,
} from './types';

/**
 * What openFolder() returns: one opener's handle on the shared FolderImpl.
 * The opener count belongs to the user registry alone (./user.ts); a handle
 * releases its one count on its first close() and never again, so a session
 * that closes twice cannot close the folder under another session.
 *
 * It is also the store's public boundary for folder operations: a failed
 * syscall leaves it as an `IO` StoreError (./errors.ts), and a closed handle
 * refuses further work.
 */
export class FolderHandle extends EventEmitter<FolderEventMap> implements Folder {
  private closed = false;
  private readonly forwards: { [K in keyof FolderEventMap]: (...args: FolderEventMap[K]) => void };

  constructor(
    /** The shared folder (internal: the store unwraps handles for copy/move). */
    readonly impl: FolderImpl,
    private readonly release: () => void,
  ) {
    super();
    this.setMaxListeners(0);
    this.forwards = {
      exists: (uids) => this.emit('exists', uids),
      flags: (change) => this.emit('flags', change),
      expunge: (uids) => this.emit('expunge', uids),
      gone: (reason) => this.emit('gone', reason),
    };
    impl.on('exists', this.forwards.exists);
    impl.on('flags', this.forwards.flags);
    impl.on('expunge', this.forwards.expunge);
    impl.on('gone', this.forwards.gone);
  }

  /** False once close() was called. */
  get isOpen(): boolean {
    return !this.closed;
  }
  get name(): string {
    return this.impl.name;
  }
  get owner(): string {
    return this.impl.user;
  }
  get uidValidity(): number {
    return this.impl.uidValidity;
  }
  get uidNext(): number {
    return this.impl.uidNext;
  }
  get highestModseq(): number {
    return this.impl.highestModseq;
  }
  get recentUid(): number | undefined {
    return this.impl.recentUid;
  }
  claimRecent(uid: number): Promise<void> {
    return this.run('record recent claims', () => this.impl.claimRecent(uid));
  }
  messages(): readonly MessageMeta[] {
    return this.impl.messages();
  }
  counts(): FolderCounts {
    return this.impl.counts();
  }
  flagColumn(): FolderFlagColumn {
    return this.impl.flagColumn();
  }
  get(uid: number): MessageMeta | undefined {
    return this.impl.get(uid);
  }
  expungedSince(modseq: number): { uids: number[]; complete: boolean } {
    return this.impl.expungedSince(modseq);
  }

  private run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) return this.refused();
    return guard(this.impl.ctx, what, { folder: this.impl.name, user: this.impl.user }, fn);
  }

  append(raw: Buffer, opts?: DeliveryAppendOptions): Promise<AppendResult> {
    return this.run('append', () => this.impl.append(raw, opts));
  }
  appendMany(items: readonly AppendItem[]): Promise<{ uids: number[]; uidValidity: number }> {
    return this.run('append', () => this.impl.appendMany(items));
  }
  store(uids: readonly number[], op: FlagOperation, flags: readonly string[], opts?: StoreFlagsOptions): Promise<StoreFlagsResult> {
    return this.run('store flags', () => this.impl.store(uids, op, flags, opts));
  }
  expunge(uids?: readonly number[], opts?: ExpungeOptions): Promise<number[]> {
    return this.run('expunge', () => this.impl.expunge(uids, opts));
  }
  copy(uids: readonly number[], target: Folder): Promise<CopyResult> {
    return this.run('copy', () => this.impl.copy(uids, unwrap(target)));
  }
  move(uids: readonly number[], target: Folder): Promise<CopyResult> {
    return this.run('move', () => this.impl.move(uids, unwrap(target)));
  }
  read(uid: number): Promise<Buffer> {
    return this.run('read message', () => this.impl.read(uid));
  }
  readMany(uids: readonly number[]): Promise<Buffer>[] {
    // It returns one promise per UID, so a non-array is refused at once (as a programming error, not a failed read).
    if (!Array.isArray(uids)) throw new StoreError('CANNOT', 'uids must be an array');
    if (this.closed) return uids.map(() => this.refused());
    return this.impl.readMany(uids).map((p) => {
      const q = this.run('read message', () => p);
      // Callers await these one by one: a later one failing first must not be an unhandled rejection (the caller still sees it).
      q.catch(() => undefined);
      return q;
    });
  }

  private refused(): Promise<never> {
    return Promise.reject(new StoreError('CANNOT', `folder handle on ${this.impl.name} is closed`));
  }
  getSummary(uid: number): Promise<unknown> {
    return this.run('read summary', () => this.impl.getSummary(uid));
  }
  getSummaries(uids: readonly number[]): Promise<Map<number, unknown>> {
    return this.run('read summaries', () => this.impl.getSummaries(uids));
  }
  searchFields(uids: readonly number[]): Promise<Map<number, readonly string[]>> {
    return this.run('read search fields', () => this.impl.searchFields(uids));
  }
  refresh(): Promise<void> {
    return this.run('refresh', () => this.impl.refresh());
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.impl.off('exists', this.forwards.exists);
    this.impl.off('flags', this.forwards.flags);
    this.impl.off('expunge', this.forwards.expunge);
    this.impl.off('gone', this.forwards.gone);
    this.release();
    return Promise.resolve();
  }
}

function unwrap(target: Folder): FolderImpl {
  if (!(target instanceof FolderHandle)) throw new StoreError('CANNOT', 'target folder is not from this store');
  if (!target.isOpen) throw new StoreError('CANNOT', `folder handle on ${target.name} is closed`);
  return target.impl;
}
