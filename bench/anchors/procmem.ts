import { readdir, readFile } from 'node:fs/promises';

export interface TreeMemory {
  /** The root and all its descendants alive when read. */
  processes: number;
  /** Sum of VmRSS: shared pages are counted once per process that maps them (what `ps` shows). */
  rss: number;
  /**
   * Sum of Pss (proportional set size, /proc/<pid>/smaps_rollup): each
   * shared page divided among the processes that map it, so the sum is the
   * memory the tree really holds. For a one-process server RSS and PSS are
   * close; for Dovecot's process-per-session model they differ by an order
   * of magnitude, which is why both are reported.
   */
  pss: number;
}

async function parentOf(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[1]);
  } catch {
    return null;
  }
}

/** `root` and every descendant, from /proc (Linux). */
export async function processTree(root: number): Promise<number[]> {
  const entries = await readdir('/proc');
  const parents = new Map<number, number>();
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (e) => {
        const pid = Number(e);
        const ppid = await parentOf(pid);
        if (ppid !== null) parents.set(pid, ppid);
      }),
  );
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    const p = todo.pop() as number;
    if (!parents.has(p) && p !== root) continue;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

async function kb(file: string, key: RegExp): Promise<number> {
  try {
    const m = key.exec(await readFile(file, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // the process ended between listing and reading
  }
}

/** RSS and PSS of the process tree under `root` (all processes of a server counted). */
export async function treeMemory(root: number): Promise<TreeMemory> {
  const pids = await processTree(root);
  // Read all, then add up (an `x += await ...` per process would lose updates).
  const each = await Promise.all(pids.map(async (pid) => [await kb(`/proc/${pid}/status`, /^VmRSS:\s+(\d+) kB$/m), await kb(`/proc/${pid}/smaps_rollup`, /^Pss:\s+(\d+) kB$/m)] as const));
  const rss = each.reduce((n, [r]) => n + r, 0);
  const pss = each.reduce((n, [, p]) => n + p, 0);
  return { processes: pids.length, rss, pss };
}

/** True while the process exists and is not a zombie (a reaped-late child of PID 1 still answers kill(pid, 0)). */
export async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
