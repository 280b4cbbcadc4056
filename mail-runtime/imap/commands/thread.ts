import { LIMITS } from '../../common/limits';
import { asAtom, atom, data } from '../protocol';
import type { SearchQuery } from '../search';
import { formatThreads, orderedSubject, references, THREAD_ALGORITHMS, WorkBudget, type ThreadAlgorithm, type ThreadNode } from '../sort';
import { fail, ok } from './args';
import { badCharset, findMatches, modseqSearch } from './search';
import { casemapped, limitResult, parseCharsetAndKeys, sortMessagesOf } from './sort';
import { SELECTED, defineCommand, okResult, type CommandSpec } from './types';
import { CommandWork } from './work';

type ThreadArgs = { badCharset: true } | { badCharset: false; algorithm: ThreadAlgorithm; query: SearchQuery };

/**
 * RFC 5256 §3 THREAD / UID THREAD with ORDEREDSUBJECT and REFERENCES. The
 * search runs as SEARCH does; threading is paced and bounded by
 * LIMITS.imapSearchWorkUnits of its own (NO [LIMIT], RFC 5530), which is
 * what stops a folder of hostile References chains from taking a core.
 */
function threadCommand(uid: boolean): CommandSpec<ThreadArgs> {
  return defineCommand({
    name: uid ? 'UID THREAD' : 'THREAD',
    states: SELECTED,
    holdExpunges: !uid,
    parse(args, cmd) {
      const name = asAtom(args[0], true);
      if (name === undefined) return fail('THREAD needs a threading algorithm');
      // RFC 5256 §3: an algorithm the server does not advertise is a BAD.
      if (!(THREAD_ALGORITHMS as readonly string[]).includes(name)) return fail(`Unsupported threading algorithm ${name.slice(0, 40)}`);
      const rest = parseCharsetAndKeys(args.slice(1), cmd.name);
      if (!rest.ok) return rest;
      if (rest.value.badCharset) return ok<ThreadArgs>({ badCharset: true });
      return ok<ThreadArgs>({ badCharset: false, algorithm: name as ThreadAlgorithm, query: rest.value.query });
    },
    async handle(ctx, a) {
      if (a.badCharset) return badCharset();
      const view = ctx.selected!;
      modseqSearch(ctx, a.query.key);
      const work = new CommandWork();
      let text: string;
      try {
        const hits = await findMatches(view, view.folder.owner, a.query.key, work);
        // RFC 5255 §4.2: subjects compare under the active comparator (i;unicode-casemap, comparator.ts), as in SORT.
        const messages = (await sortMessagesOf(view.folder, hits, true, work)).map(casemapped);
        const budget = new WorkBudget(work, LIMITS.imapSearchWorkUnits, 'THREAD');
        const threads: ThreadNode[] = a.algorithm === 'REFERENCES' ? await references(messages, budget) : await orderedSubject(messages, budget);
        text = await formatThreads(threads, (m) => (uid ? m.uid : m.seq), budget);
      } catch (err) {
        const limited = limitResult(err, 'search');
        if (limited) return limited;
        throw err;
      }
      // RFC 5256 §4: `thread-data = "THREAD" [SP 1*thread-list]`.
      ctx.send(text ? data(atom('THREAD'), atom(text)) : data(atom('THREAD')));
      return okResult('THREAD completed');
    },
  });
}

export const THREAD = threadCommand(false);
export const UID_THREAD = threadCommand(true);
