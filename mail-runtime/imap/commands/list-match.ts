/**
 * LIST/LSUB pattern matching (RFC 3501 §6.3.8): `*` matches any run of
 * characters, `%` any run without the hierarchy delimiter.
 *
 * Not a regular expression: a backtracking engine needs time exponential in
 * the number of wildcards (`*a*a*a*b` against 200 × `a` took 0.5 s per
 * name, one more `*a` 20 s; issue 9). This is a set-of-states simulation
 * (a Thompson NFA): O(name × pattern) in the worst case, whatever the
 * wildcards. Runs of wildcards are merged first (`**`, `*%` and `%*` are
 * `*`, `%%` is `%`), and a name shorter than the pattern's literal text is
 * refused at once, so a pattern is never longer than about twice the name
 * it is compared with.
 */

type Token = { readonly wild: '*' | '%' } | { readonly char: number };

export interface CompiledPattern {
  /** Whether the whole name matches. */
  test(name: string): boolean;
  /** Work of one `test` at most (name length × pattern tokens), for pacing. */
  cost(name: string): number;
}

export function compileListPattern(pattern: string, delimiter: string): CompiledPattern {
  const delim = delimiter.charCodeAt(0);
  const tokens: Token[] = [];
  let literals = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charCodeAt(i);
    if (c === 0x2a || c === 0x25) {
      const last = tokens[tokens.length - 1];
      if (last && 'wild' in last) {
        if (c === 0x2a) tokens[tokens.length - 1] = { wild: '*' };
        continue;
      }
      tokens.push({ wild: c === 0x2a ? '*' : '%' });
    } else {
      tokens.push({ char: c });
      literals++;
    }
  }
  const m = tokens.length;
  // States 0..m: "the first k tokens have matched what was read so far".
  let cur = new Uint8Array(m + 1);
  let next = new Uint8Array(m + 1);
  /** Adds state k and, since a wildcard may match nothing, the state after it. */
  const add = (set: Uint8Array, k: number): void => {
    set[k] = 1;
    const t = tokens[k];
    if (k < m && 'wild' in t) set[k + 1] = 1; // runs are merged: never two wildcards in a row
  };
  return {
    cost: (name) => (name.length + 1) * (m + 1),
    test(name) {
      if (name.length < literals) return false;
      cur.fill(0);
      add(cur, 0);
      for (let i = 0; i < name.length; i++) {
        const c = name.charCodeAt(i);
        next.fill(0);
        let any = false;
        for (let k = 0; k < m; k++) {
          if (!cur[k]) continue;
          const t = tokens[k];
          if ('wild' in t) {
            if (t.wild === '*' || c !== delim) {
              add(next, k);
              any = true;
            }
          } else if (t.char === c) {
            add(next, k + 1);
            any = true;
          }
        }
        if (!any) return false;
        [cur, next] = [next, cur];
      }
      return cur[m] === 1;
    },
  };
}
