/**
 * THREAD (RFC 5256 §3): ORDEREDSUBJECT and REFERENCES, and the thread-list
 * response syntax (§4). Every loop is iterative (a reply chain can be
 * 100,000 messages deep) and paced through a WorkBudget.
 */
import { compareOctets } from '../message';
import { pacedSort, type WorkBudget } from './pace';
import { sentDate, type SortMessage } from './sort';

export type ThreadAlgorithm = 'ORDEREDSUBJECT' | 'REFERENCES';
export const THREAD_ALGORITHMS: readonly ThreadAlgorithm[] = ['ORDEREDSUBJECT', 'REFERENCES'];

/** A thread tree node; `msg` null is a dummy (RFC 5256 §3: a message that is referenced but not among the searched ones). */
export interface ThreadNode {
  readonly msg: SortMessage | null;
  children: ThreadNode[];
}

/** RFC 5256 §2.2 order: sent date, then mailbox order. */
function bySent(a: SortMessage, b: SortMessage): number {
  return sentDate(a) - sentDate(b) || a.seq - b.seq;
}

/**
 * ORDEREDSUBJECT (RFC 5256 §3): sorted by base subject, then sent date;
 * split into threads of equal base subject; threads ordered by the sent
 * date of their first message. The first message is at the root level and
 * every other message of the thread is its child (no grandchildren).
 */
export async function orderedSubject(messages: readonly SortMessage[], work: WorkBudget): Promise<ThreadNode[]> {
  const sorted = await pacedSort(messages, (a, b) => compareOctets(a.fields.subject, b.fields.subject) || bySent(a, b), work);
  const threads: ThreadNode[] = [];
  let current: ThreadNode | undefined;
  for (const m of sorted) {
    if (current && current.msg!.fields.subject === m.fields.subject) current.children.push({ msg: m, children: [] });
    else {
      current = { msg: m, children: [] };
      threads.push(current);
    }
    await work.spend(1);
  }
  return pacedSort(threads, (a, b) => bySent(a.msg!, b.msg!), work);
}

interface Container {
  readonly id: string;
  msg: SortMessage | null;
  parent: Container | null;
  /** Insertion-ordered; order is settled by the sorts of steps 4 and 6. */
  children: Set<Container>;
}

function link(parent: Container, child: Container): void {
  child.parent = parent;
  parent.children.add(child);
}

function unlink(child: Container): void {
  child.parent?.children.delete(child);
  child.parent = null;
}

/**
 * REFERENCES (RFC 5256 §3, steps 1–6). Message IDs compare
 * case-sensitively and are normalised by the analyzer (sort-fields.ts);
 * base subjects are already i;ascii-casemapped.
 */
export async function references(messages: readonly SortMessage[], work: WorkBudget): Promise<ThreadNode[]> {
  const byId = new Map<string, Container>();
  let unique = 0;
  const container = (id: string): Container => {
    let c = byId.get(id);
    if (!c) {
      c = { id, msg: null, parent: null, children: new Set() };
      byId.set(id, c);
    }
    return c;
  };
  /** Would making `parent` the parent of `child` close a loop (parent is child, or a descendant of it)? */
  const wouldLoop = (parent: Container, child: Container): boolean => {
    let steps = 0;
    for (let p: Container | null = parent; p; p = p.parent) {
      if (p === child) return true;
      steps++;
    }
    work.count(steps);
    return false;
  };

  // (1) In mailbox order, so that of several messages with one Message ID the first keeps it.
  for (const m of messages) {
    let self: Container;
    const id = m.fields.messageId;
    const existing = id === null ? undefined : byId.get(id);
    if (id !== null && (!existing || existing.msg === null)) {
      self = container(id);
      self.msg = m;
    } else {
      // No valid Message ID, or a duplicate: a unique one (NUL cannot occur in a parsed id).
      self = container(`\0${++unique}`);
      self.msg = m;
    }
    // (1.A) link the references as parent/child, first to last, never changing an existing parent or closing a loop.
    const refs = m.fields.references;
    for (let i = 0; i + 1 < refs.length; i++) {
      const parent = container(refs[i]!);
      const child = container(refs[i + 1]!);
      if (child.parent === null && !wouldLoop(parent, child)) link(parent, child);
    }
    // (1.B) the last reference is the parent: break any link made so far (a truncated References elsewhere), then link unless it loops.
    unlink(self);
    if (refs.length) {
      const parent = container(refs[refs.length - 1]!);
      if (!wouldLoop(parent, self)) link(parent, self);
    }
    await work.spend(2 + refs.length);
  }

  // (2) Every container without a parent goes under the root.
  const root: Container = { id: '', msg: null, parent: null, children: new Set() };
  for (const c of byId.values()) {
    if (c.parent === null) link(root, c);
    await work.spend(1);
  }

  // (3) Prune dummies: childless ones go; others give their children to their own level,
  // except to the root level, where only a single child is promoted.
  const stack: Container[] = [root];
  while (stack.length) {
    const p = stack.pop()!;
    const atRoot = p === root;
    const pending = [...p.children];
    const kept = new Set<Container>();
    for (let k = 0; k < pending.length; k++) {
      const c = pending[k]!;
      if (c.msg === null && (c.children.size === 0 || !atRoot || c.children.size === 1)) {
        // Promoted children are looked at again on this level (they may be dummies too).
        for (const g of c.children) pending.push(g);
        continue;
      }
      kept.add(c);
    }
    p.children = kept;
    for (const c of kept) {
      c.parent = p;
      stack.push(c);
    }
    await work.spend(1 + pending.length);
  }

  // Dummies now exist only at the top level and have at least two children.
  const firstOf = (c: Container): Container => (c.msg === null ? [...c.children][0]! : c);
  const topOrder = (a: Container, b: Container): number => bySent(firstOf(a).msg!, firstOf(b).msg!);
  const sortChildren = async (c: Container): Promise<void> => {
    if (c.children.size > 1) c.children = new Set(await pacedSort([...c.children], topOrder, work));
  };

  // (4) Sort the top level by sent date; a dummy sorts its children and goes by its first one.
  for (const c of root.children) if (c.msg === null) await sortChildren(c);
  await sortChildren(root);

  // (5) Gather top-level threads with the same base subject.
  const threadSubject = (c: Container): string => firstOf(c).msg!.fields.subject;
  const table = new Map<string, Container>();
  // (5.B) one message per subject: a dummy wins over a message, a non-reply over a reply.
  for (const c of root.children) {
    const subject = threadSubject(c);
    if (subject === '') continue;
    const t = table.get(subject);
    if (!t) table.set(subject, c);
    else if (t.msg !== null && (c.msg === null || (t.msg.fields.replyOrForward && !c.msg.fields.replyOrForward))) table.set(subject, c);
    await work.spend(1);
  }
  // (5.C) merge.
  const top = [...root.children];
  for (const c of top) {
    await work.spend(1);
    if (c.parent !== root) continue; // already merged into another thread
    const subject = threadSubject(c);
    if (subject === '') continue;
    const t = table.get(subject)!;
    if (t === c) continue;
    if (t.msg === null && c.msg === null) {
      // both dummies: the children of both become siblings
      for (const g of c.children) link(t, g);
      unlink(c);
    } else if (t.msg === null || (c.msg!.fields.replyOrForward && !t.msg.fields.replyOrForward)) {
      unlink(c);
      link(t, c);
    } else {
      // a new dummy in the table message's place holding both (the root's order is settled in step 6)
      const d: Container = { id: '', msg: null, parent: null, children: new Set() };
      unlink(t);
      unlink(c);
      link(root, d);
      link(d, t);
      link(d, c);
      table.set(subject, d);
    }
  }

  // (6) Sort every set of siblings by sent date, deepest first (a dummy goes by its first child).
  const order: Container[] = [];
  const walk: Container[] = [root];
  while (walk.length) {
    const c = walk.pop()!;
    order.push(c);
    for (const g of c.children) walk.push(g);
    await work.spend(1);
  }
  for (let i = order.length - 1; i >= 0; i--) await sortChildren(order[i]!);

  // As plain nodes.
  const toNode = new Map<Container, ThreadNode>();
  for (let i = order.length - 1; i >= 0; i--) {
    const c = order[i]!;
    toNode.set(c, { msg: c.msg, children: [...c.children].map((g) => toNode.get(g)!) });
    await work.spend(1);
  }
  return toNode.get(root)!.children;
}

/**
 * RFC 5256 §4 `thread-data = "THREAD" [SP 1*thread-list]`: a node and its
 * only child continue one list; several children are each a nested list;
 * a dummy contributes no number. Built iteratively (no recursion on depth).
 */
export async function formatThreads(threads: readonly ThreadNode[], id: (m: SortMessage) => number, work: WorkBudget): Promise<string> {
  const parts: string[] = [];
  // Each stack entry is a node to open as its own thread-list, or a closing parenthesis.
  const stack: (ThreadNode | ')')[] = [];
  for (let i = threads.length - 1; i >= 0; i--) stack.push(threads[i]!);
  while (stack.length) {
    const e = stack.pop()!;
    if (e === ')') {
      parts.push(')');
      continue;
    }
    parts.push('(');
    let n: ThreadNode = e;
    let first = true;
    // members: this node and every only child below it
    for (;;) {
      if (n.msg) {
        parts.push(first ? String(id(n.msg)) : ` ${id(n.msg)}`);
        first = false;
      }
      if (n.children.length !== 1) break;
      n = n.children[0]!;
    }
    if (n.children.length > 1 && !first) parts.push(' ');
    stack.push(')');
    for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]!);
    await work.spend(1);
  }
  return parts.join('');
}
