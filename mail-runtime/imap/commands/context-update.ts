/**
 * CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4): a SEARCH or SORT with
 * `RETURN (UPDATE)` keeps its result up to date. After every change to the
 * selected mailbox (another session's or this one's: new mail, an expunge,
 * a flag change) the kept searches run again and the difference goes out as
 * `* ESEARCH (TAG "t") [UID] REMOVEFROM (pos set) ADDTO (pos set)` (§4.3,
 * §6 `esearch-response`). CANCELUPDATE (§4.5) ends them; a new SELECT ends
 * them all (they belong to the mailbox view, which a select replaces).
 *
 * Each kept search runs again on every change, so a session keeps at most
 * LIMITS.imapContextUpdates of them; one more is answered normally and
 * tagged `OK [NOUPDATE "tag"]` (§4.2). A re-run that fails (over its work
 * budget, a store error) drops that search with an untagged
 * `OK [NOUPDATE "tag"]`: the server may stop updating at any time (§4.2).
 */
import { LIMITS } from '../../common/limits';
import type { Logger } from '../../common/log';
import { atom, data, formatSequenceSet, list, num, str, untagged, type ImapResponse, type ResponseCode, type ResponseValue } from '../protocol';
import type { MailboxView } from './view';
import { CommandWork } from './work';

/** One search kept up to date. */
interface KeptSearch {
  readonly tag: string;
  /** UID SEARCH / UID SORT: messages named by UID, else by sequence number. */
  readonly uid: boolean;
  /** SORT: positions count (§4.3 context-position); SEARCH sends position 0. */
  readonly sorted: boolean;
  /** Runs the search again: the matching UIDs in result order (ascending for SEARCH). */
  readonly rerun: (work: CommandWork) => Promise<number[]>;
  /** The result as the client knows it: UIDs in result order. */
  result: number[];
}

interface ViewUpdates {
  readonly kept: KeptSearch[];
  /** `view.changes` when the kept searches last ran. */
  seen: number;
}

/** Kept searches per selected-mailbox view (a new SELECT makes a new view, so nothing outlives it). */
const UPDATES = new WeakMap<MailboxView, ViewUpdates>();

/** RFC 5267 §4.2 NOUPDATE response code naming the search's tag. */
export function noUpdateCode(tag: string): ResponseCode {
  return { name: 'NOUPDATE', args: [str(tag)] };
}

/**
 * Keeps a search's result up to date from now on; false (and nothing kept)
 * when the session already keeps LIMITS.imapContextUpdates searches: the
 * caller answers `OK [NOUPDATE "tag"]`. A search with the same tag as a kept
 * one replaces it (tags name them in ESEARCH and CANCELUPDATE).
 */
export function keepUpdated(view: MailboxView, search: Omit<KeptSearch, 'result'>, result: readonly number[], changesAtStart: number): boolean {
  let u = UPDATES.get(view);
  if (!u) {
    u = { kept: [], seen: changesAtStart };
    UPDATES.set(view, u);
  }
  const same = u.kept.findIndex((k) => k.tag === search.tag);
  if (same >= 0) u.kept.splice(same, 1);
  else if (u.kept.length >= LIMITS.imapContextUpdates) return false;
  u.kept.push({ ...search, result: [...result] });
  // A change during the search itself: run again at the next notification point.
  u.seen = Math.min(u.seen, changesAtStart);
  return true;
}

/** Is a search with this tag kept up to date in this view? */
export function isKept(view: MailboxView, tag: string): boolean {
  return UPDATES.get(view)?.kept.some((k) => k.tag === tag) ?? false;
}

/** Stops keeping the search with this tag (CANCELUPDATE, §4.5); nothing if there is none. */
export function cancelUpdate(view: MailboxView, tag: string): void {
  const u = UPDATES.get(view);
  const i = u ? u.kept.findIndex((k) => k.tag === tag) : -1;
  if (u && i >= 0) u.kept.splice(i, 1);
}

/** Prefix of every update: `ESEARCH (TAG "t") [UID]`. */
function head(k: KeptSearch): ResponseValue[] {
  const items: ResponseValue[] = [atom('ESEARCH'), list([atom('TAG'), str(k.tag)])];
  if (k.uid) items.push(atom('UID'));
  return items;
}

/**
 * The REMOVEFROM/ADDTO items that take the client from `k.result` to
 * `next`, and the list the client then holds. Sequence-number searches
 * leave out messages whose EXPUNGE the client already got: RFC 3501 §7.4.1
 * already told it they are gone (and their numbers are reused).
 */
function diff(view: MailboxView, k: KeptSearch, next: readonly number[]): { items: ResponseValue[]; result: number[] } {
  const id = (uid: number): number => (k.uid ? uid : view.seqOf(uid));
  const nextSet = new Set(next);
  // What the client holds now: for sequence numbers, without the messages it saw expunged.
  const held = k.uid ? k.result : k.result.filter((uid) => view.seqOf(uid) > 0);
  const heldSet = new Set(held);
  const items: ResponseValue[] = [];
  if (!k.sorted) {
    // §4.3: an unsorted result has no positions; they are 0.
    const removed = held.filter((uid) => !nextSet.has(uid)).map(id);
    const added = next.filter((uid) => !heldSet.has(uid)).map(id);
    if (removed.length) items.push(atom('REMOVEFROM'), list([num(0), atom(formatSequenceSet(removed))]));
    if (added.length) items.push(atom('ADDTO'), list([num(0), atom(formatSequenceSet(added))]));
    return { items, result: [...next] };
  }
  // Sorted: positions are 1-based in the list as the client holds it after
  // the items before (§4.3). Removals first, each where it is then; the
  // kept messages keep their relative order (sort keys never change), so
  // the additions go in at their final positions, ascending.
  const work = [...held];
  for (const uid of held) {
    if (nextSet.has(uid)) continue;
    const pos = work.indexOf(uid);
    work.splice(pos, 1);
    items.push(atom('REMOVEFROM'), list([num(pos + 1), atom(String(id(uid)))]));
  }
  for (let i = 0; i < next.length; ) {
    if (heldSet.has(next[i]!)) {
      i++;
      continue;
    }
    let j = i;
    while (j < next.length && !heldSet.has(next[j]!)) j++;
    // A run of new messages at positions i+1..j, in sort order.
    items.push(atom('ADDTO'), list([num(i + 1), atom(formatSequenceSet(next.slice(i, j).map(id)))]));
    i = j;
  }
  return { items, result: [...next] };
}

/**
 * Runs the view's kept searches again if the mailbox changed since they
 * last ran and sends what changed in their results. Called at each
 * notification point, after the EXISTS/EXPUNGE/FETCH updates, so every
 * number it sends is one the client already knows.
 */
export async function sendContextUpdates(view: MailboxView, send: (r: ImapResponse) => void, log: Logger): Promise<void> {
  const u = UPDATES.get(view);
  if (!u || u.kept.length === 0 || u.seen === view.changes) return;
  u.seen = view.changes;
  for (const k of [...u.kept]) {
    let next: number[];
    try {
      next = await k.rerun(new CommandWork());
    } catch (err) {
      log.info({ tag: k.tag, err: (err as Error).message }, 'search update stopped');
      cancelUpdate(view, k.tag);
      send(untagged('OK', 'Search result no longer kept up to date', noUpdateCode(k.tag)));
      continue;
    }
    if (!u.kept.includes(k)) continue; // cancelled meanwhile
    const { items, result } = diff(view, k, next);
    k.result = result;
    if (items.length) send(data(...head(k), ...items));
  }
}
