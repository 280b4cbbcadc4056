import { asAtom, atom, data } from '../protocol';
import { fail, ok } from './args';
import { defineCommand, okResult } from './types';

/** Extensions that ENABLE can switch on here (RFC 5161 §3.1; RFC 7162 §3.1.8 CONDSTORE, §3.2.3 QRESYNC). */
const ENABLEABLE = new Set(['CONDSTORE', 'QRESYNC']);

/** RFC 5161 ENABLE: only in the authenticated state. Unknown names are ignored, as §3.1 says. */
export const ENABLE = defineCommand({
  name: 'ENABLE',
  states: ['AUTHENTICATED'],
  parse(args) {
    if (!args.length) return fail('ENABLE needs at least one capability');
    const names: string[] = [];
    for (const a of args) {
      const n = asAtom(a, true);
      if (!n) return fail('Invalid capability name');
      names.push(n);
    }
    return ok(names);
  },
  async handle(ctx, names) {
    const newly: string[] = [];
    for (const n of names) {
      if (ENABLEABLE.has(n) && !ctx.enabled.has(n)) {
        ctx.enabled.add(n);
        newly.push(n);
        // RFC 7162 §3.2.3: enabling QRESYNC enables CONDSTORE too.
        if (n === 'QRESYNC') ctx.enabled.add('CONDSTORE');
      }
    }
    ctx.send(data(atom('ENABLED'), ...newly.map(atom)));
    return okResult('ENABLE completed');
  },
});
