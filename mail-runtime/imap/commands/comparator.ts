import { asAstring, atom, data } from '../protocol';
import { fail, ok } from './args';
import { AUTH_OR_SELECTED, defineCommand, noResult, okResult } from './types';

/**
 * The comparators installed here (RFC 5255 §4.2: I18NLEVEL=1 and =2 need
 * i;unicode-casemap, RFC 5051). It is the only one and so the default
 * (§4.4: SHOULD be the default; the default stays the same for the whole
 * connection): SEARCH's substring keys (search/evaluate.ts), SORT's
 * string keys (sort.ts) and THREAD's subject comparisons (thread.ts) all
 * use it. A comparator is only listed here when every one of those
 * commands honours it, so there is nothing to switch between yet and the
 * session keeps no state for it.
 */
const INSTALLED = ['i;unicode-casemap'] as const;
const DEFAULT = INSTALLED[0];

/** Arguments per command: a client naming more is not choosing. */
const MAX_ARGUMENTS = 32;
/** RFC 4790 §3.1 collation names are short ASCII; 255 is generous. */
const MAX_NAME = 255;

/**
 * RFC 4790 §3.2: a collation argument may hold `*` wildcards (any run of
 * characters); collation names compare case-insensitively (§3.1 writes
 * them in ASCII with no case distinction).
 */
function matches(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
  return re.test(name);
}

/**
 * RFC 5255 §4.7 COMPARATOR: without arguments, the active comparator
 * (§4.8 `* COMPARATOR <name>`); with arguments, the first one that names
 * an installed comparator ("default" is the default) becomes active, and
 * none matching is `NO [BADCOMPARATOR]` (§4.9). The match list of §4.8
 * is sent only when more than one comparator matched, which one
 * installed comparator never does.
 */
export const COMPARATOR = defineCommand({
  name: 'COMPARATOR',
  states: AUTH_OR_SELECTED,
  parse(args) {
    if (args.length > MAX_ARGUMENTS) return fail(`at most ${MAX_ARGUMENTS} comparator names`);
    const names: string[] = [];
    for (const a of args) {
      // §4.10: comp-order-quoted = astring.
      const name = asAstring(a);
      if (name === undefined || name === '' || name.length > MAX_NAME || !/^[\x21-\x7e]+$/.test(name)) {
        return fail('arguments must be collation names (RFC 4790 section 3.1) or "default"');
      }
      names.push(name);
    }
    return ok(names);
  },
  async handle(ctx, names) {
    if (names.length === 0) {
      ctx.send(data(atom('COMPARATOR'), atom(DEFAULT)));
      return okResult('COMPARATOR completed');
    }
    for (const arg of names) {
      const chosen = arg.toLowerCase() === 'default' ? DEFAULT : INSTALLED.find((c) => matches(arg, c));
      if (chosen) {
        ctx.send(data(atom('COMPARATOR'), atom(chosen)));
        return okResult(`Will use ${chosen} for collation`);
      }
    }
    return noResult(`No such comparator; installed: ${INSTALLED.join(' ')}`, { name: 'BADCOMPARATOR' });
  },
});
