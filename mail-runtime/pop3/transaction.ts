import type { DirectoryUser } from '../auth';
import type { Pop3Backend, Pop3Maildrop, Pop3Message } from './maildrop';

/** A message as the TRANSACTION state sees it: its number and whether DELE marked it. */
export interface NumberedMessage extends Pop3Message {
  /** RFC 1939 §5: 1-based, fixed for the whole session. */
  number: number;
}

export type Lookup = { found: true; message: NumberedMessage } | { found: false; error: string };

interface Entry extends NumberedMessage {
  deleted: boolean;
}

/**
 * The maildrop during the TRANSACTION state (RFC 1939 §5): the message list
 * fixed at login, DELE marks, RSET, and the UPDATE step (§6) that removes
 * what is still marked. Holds the maildrop lock until close().
 */
export class Transaction {
  private open = true;

  private constructor(
    private readonly maildrop: Pop3Maildrop,
    private readonly entries: Entry[],
  ) {}

  /** Opens and locks the user's maildrop (RFC 1939 §4) and numbers its messages. Throws MaildropInUseError when locked. */
  static async open(backend: Pop3Backend, user: DirectoryUser): Promise<Transaction> {
    let maildrop: Pop3Maildrop | undefined;
    try {
      maildrop = await backend.openMaildrop(user);
      const list = await maildrop.list();
      return new Transaction(
        maildrop,
        list.map((m, i) => ({ ...m, number: i + 1, deleted: false })),
      );
    } catch (err) {
      await maildrop?.close().catch(() => undefined);
      throw err;
    }
  }

  /** Messages not marked deleted, in number order. */
  live(): NumberedMessage[] {
    return this.entries.filter((e) => !e.deleted);
  }

  /** Count and octets of the live messages (STAT, RFC 1939 §5). */
  summary(): { count: number; octets: number } {
    const live = this.live();
    return { count: live.length, octets: live.reduce((n, e) => n + e.size, 0) };
  }

  /** RFC 1939 §5: a deleted message may not be referred to. */
  find(number: number): Lookup {
    const e = this.entries[number - 1];
    if (!e) return { found: false, error: 'No such message' };
    if (e.deleted) return { found: false, error: 'Message is deleted' };
    return { found: true, message: e };
  }

  markDeleted(number: number): void {
    const e = this.entries[number - 1];
    if (e) e.deleted = true;
  }

  /** RSET (RFC 1939 §5): unmark everything. */
  reset(): void {
    for (const e of this.entries) e.deleted = false;
  }

  read(message: NumberedMessage): Promise<Buffer> {
    return this.maildrop.read(message.uid);
  }

  /** UPDATE (RFC 1939 §6): removes the marked messages; false when some could not be removed. */
  async commit(): Promise<boolean> {
    const doomed = this.entries.filter((e) => e.deleted).map((e) => e.uid);
    if (!doomed.length) return true;
    const removed = await this.maildrop.expunge(doomed);
    return removed.length === doomed.length || doomed.every((u) => removed.includes(u));
  }

  /** Releases the maildrop lock; safe to call more than once. */
  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    await this.maildrop.close();
  }
}
