import { asAtom, atom, data } from '../protocol';
import { fail, ok } from './args';
import { defineCommand, okResult } from './types';

/**
 * Extensions that ENABLE can switch on here (RFC 5161 §3.1; RFC 7162 §3.1.8
 * CONDSTORE, §3.2.3 QRESYNC; RFC 9051 Appendix A: a server offering both
 * IMAP4rev1 and IMAP4rev2 behaves as IMAP4rev2 only after ENABLE IMAP4rev2).
 */
const ENABLEABLE: ReadonlyMap<string, string> = new Map(['CONDSTORE', 'QRESYNC', 'IMAP4rev2'].map((n) => [n.toUpperCase(), n]));

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
    for (const name of names) {
      // Capability names compare case-insensitively; ENABLED echoes our spelling (RFC 9051 §6.3.1 example).
      const n = ENABLEABLE.get(name);
      if (n !== undefined && !ctx.enabled.has(n)) {
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
