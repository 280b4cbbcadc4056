/**
 * LIST/LSUB pattern matching (RFC 3501 §6.3.8: `*` matches anything, `%`
 * anything but the hierarchy delimiter) without backtracking (issue 9: a
 * regular expression took 0.5 s for `*a*a*a*b` against one 200-character
 * name, exponentially more per extra wildcard).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileListPattern } from '../../../mail-runtime/imap/commands/list-match';

/** The obvious definition, as a backtracking regular expression: fine on the short inputs below. */
function reference(pattern: string, name: string): boolean {
  let src = '';
  for (const ch of pattern) {
    if (ch === '*') src += '.*';
    else if (ch === '%') src += '[^/]*';
    else src += ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${src}$`, 's').test(name);
}

describe('compileListPattern', () => {
  // RFC 3501 §6.3.8 examples and the corners of merging wildcard runs.
  const rows: Array<[string, string, boolean]> = [
    ['*', 'a/b/c', true],
    ['%', 'a/b', false],
    ['%', 'a', true],
    ['a/%', 'a/b', true],
    ['a/%', 'a/b/c', false],
    ['a/*', 'a/b/c', true],
    ['%/%', 'a/b', true],
    ['**%%*', 'x/y', true],
    ['%%', 'x/y', false],
    ['%*', 'x/y', true],
    ['*%', 'x/y', true],
    ['', '', true],
    ['', 'a', false],
    ['INBOX', 'INBOX', true],
    ['a*b', 'ab', true],
    ['a*b', 'a/x/b', true],
    ['a%b', 'a/b', false],
    ['é*', 'ét/é', true],
  ];
  it.each(rows)('%j against %j → %s', (pattern, name, expected) => {
    expect(compileListPattern(pattern, '/').test(name)).toBe(expected);
    expect(reference(pattern, name)).toBe(expected);
  });

  it('agrees with the regular expression on random patterns and names', () => {
    const alphabet = fc.constantFrom('a', 'b', '/', '.');
    fc.assert(
      fc.property(
        fc.array(fc.oneof(alphabet, fc.constantFrom('*', '%')), { maxLength: 10 }).map((a) => a.join('')),
        fc.array(alphabet, { maxLength: 12 }).map((a) => a.join('')),
        (pattern, name) => compileListPattern(pattern, '/').test(name) === reference(pattern, name),
      ),
      { numRuns: 3000 },
    );
  });

  it('answers at once where backtracking would not finish (12 wildcards, 40 names of 200 characters)', () => {
    const p = compileListPattern(`${'*a'.repeat(12)}*b`, '/');
    for (let i = 0; i < 40; i++) expect(p.test(`${'a'.repeat(200)}${i}`)).toBe(false);
    expect(p.test(`${'a'.repeat(200)}b`)).toBe(true);
  });

  it('a name shorter than the literal text is refused without simulation; cost is bounded by name × pattern', () => {
    const p = compileListPattern(`${'%a'.repeat(500)}`, '/');
    expect(p.test('a'.repeat(255))).toBe(false);
    expect(p.cost('a'.repeat(255))).toBe(256 * 1001);
  });
});
