/**
 * RFC 5322 §3.4 address lists, read into the RFC 3501 §7.4.2 ENVELOPE
 * address structure (name, adl, mailbox, host). Encoded words are left as
 * they are (RFC 3501 sends the header text, clients decode). Lenient with the
 * obsolete and broken forms found in real mail.
 */

export interface EnvelopeAddress {
  /** Display name (or, for `addr (Comment)`, the comment), binary string. */
  readonly name: string | null;
  /** Source route (obsolete RFC 5322 §4.4 `obs-route`). */
  readonly adl: string | null;
  /** Local part; for a group start the group name, for a group end null. */
  readonly mailbox: string | null;
  /** Domain; null marks group syntax (RFC 3501 §7.4.2). */
  readonly host: string | null;
}

/**
 * RFC 3501 leaves open what to send for an address without a domain; host
 * NIL would mean group syntax, so like Dovecot we send this placeholder.
 */
export const MISSING_DOMAIN = 'MISSING_DOMAIN';

type Tok =
  | { kind: 'atom'; text: string }
  | { kind: 'quoted'; text: string }
  | { kind: 'comment'; text: string }
  | { kind: 'literal'; text: string } // [domain literal]
  | { kind: 'special'; text: string };

const SPECIALS = '<>@,;:.';

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '(') {
      let depth = 0;
      let text = '';
      for (; i < s.length; i++) {
        const ch = s[i];
        if (ch === '\\' && i + 1 < s.length) {
          text += s[++i];
          continue;
        }
        if (ch === '(') {
          if (depth++ > 0) text += ch;
        } else if (ch === ')') {
          if (--depth === 0) {
            i++;
            break;
          }
          text += ch;
        } else text += ch;
      }
      out.push({ kind: 'comment', text });
    } else if (c === '"') {
      let text = '';
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        text += s[i++];
      }
      i++;
      out.push({ kind: 'quoted', text });
    } else if (c === '[') {
      const end = s.indexOf(']', i);
      const stop = end < 0 ? s.length : end + 1;
      out.push({ kind: 'literal', text: s.slice(i, stop) });
      i = stop;
    } else if (SPECIALS.includes(c)) {
      out.push({ kind: 'special', text: c });
      i++;
    } else {
      let j = i;
      while (j < s.length && !SPECIALS.includes(s[j]) && !'()"[ \t\r\n'.includes(s[j])) j++;
      if (j === i) j++; // a stray ']' or similar: take it as a one-char atom
      out.push({ kind: 'atom', text: s.slice(i, j) });
      i = j;
    }
  }
  return out;
}

class Parser {
  private i = 0;
  /** Last comment seen while reading a local part or domain (the name of `addr (Name)`). */
  private comment: string | null = null;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok | undefined {
    return this.toks[this.i];
  }

  private isSpecial(t: Tok | undefined, ch: string): boolean {
    return t?.kind === 'special' && t.text === ch;
  }

  parseList(): EnvelopeAddress[] {
    const out: EnvelopeAddress[] = [];
    while (this.i < this.toks.length) {
      if (this.isSpecial(this.peek(), ',')) {
        this.i++;
        continue;
      }
      const before = this.i;
      this.parseAddress(out, false);
      if (this.i === before) this.i++; // always progress
    }
    return out;
  }

  /** Reads one mailbox or group into `out`. */
  private parseAddress(out: EnvelopeAddress[], inGroup: boolean): void {
    const words: string[] = [];
    let comment: string | null = null;
    const start = this.i;
    // phrase: words, dots (obs-phrase) and comments
    for (;;) {
      const t = this.peek();
      if (!t) break;
      if (t.kind === 'atom' || t.kind === 'quoted') {
        words.push(t.text);
        this.i++;
      } else if (t.kind === 'comment') {
        comment = t.text;
        this.i++;
      } else if (this.isSpecial(t, '.')) {
        words.push('.');
        this.i++;
      } else break;
    }
    const t = this.peek();
    if (this.isSpecial(t, ':') && !inGroup) {
      // RFC 5322 §3.4 group: display-name ":" [group-list] ";"
      this.i++;
      out.push({ name: null, adl: null, mailbox: joinPhrase(words), host: null });
      while (this.i < this.toks.length && !this.isSpecial(this.peek(), ';')) {
        if (this.isSpecial(this.peek(), ',')) {
          this.i++;
          continue;
        }
        const before = this.i;
        this.parseAddress(out, true);
        if (this.i === before) this.i++;
      }
      if (this.isSpecial(this.peek(), ';')) this.i++;
      out.push({ name: null, adl: null, mailbox: null, host: null });
      return;
    }
    if (this.isSpecial(t, '<')) {
      this.i++;
      const addr = this.parseAngle();
      // A comment after the angle address is not the name (RFC 5322 §3.4 name-addr).
      while (this.peek()?.kind === 'comment') this.i++;
      out.push({ name: words.length ? joinPhrase(words) : null, ...addr });
      return;
    }
    // addr-spec: local-part [ "@" domain ]
    this.i = start;
    this.comment = null;
    const local = this.readLocalPart();
    let host: string | null = null;
    if (this.isSpecial(this.peek(), '@')) {
      this.i++;
      host = this.readDomain();
    }
    // `addr (Name)`: the comment stands in for the display name.
    const named = (this.comment as string | null) ?? comment;
    if (local === '' && host === null) return;
    out.push({ name: named !== null ? named.trim() || null : null, adl: null, mailbox: local, host: host ?? MISSING_DOMAIN });
  }

  private readLocalPart(): string {
    let local = '';
    for (;;) {
      const t = this.peek();
      if (!t) break;
      if (t.kind === 'atom' || t.kind === 'quoted') local += t.text;
      else if (this.isSpecial(t, '.')) local += '.';
      else if (t.kind === 'comment') this.comment = t.text;
      else break;
      this.i++;
    }
    return local;
  }

  private readDomain(): string {
    let domain = '';
    for (;;) {
      const t = this.peek();
      if (!t) break;
      if (t.kind === 'atom' || t.kind === 'literal') domain += t.text;
      else if (this.isSpecial(t, '.')) domain += '.';
      else if (t.kind === 'comment') this.comment = t.text;
      else break;
      this.i++;
    }
    return domain;
  }

  private parseAngle(): { adl: string | null; mailbox: string | null; host: string | null } {
    let adl: string | null = null;
    // obs-route: "@a,@b:"
    if (this.isSpecial(this.peek(), '@')) {
      const routes: string[] = [];
      while (this.isSpecial(this.peek(), '@')) {
        this.i++;
        routes.push(`@${this.readDomain()}`);
        if (this.isSpecial(this.peek(), ',')) this.i++;
      }
      if (this.isSpecial(this.peek(), ':')) this.i++;
      adl = routes.join(',');
    }
    const local = this.readLocalPart();
    let host: string | null = null;
    if (this.isSpecial(this.peek(), '@')) {
      this.i++;
      host = this.readDomain();
    }
    // Skip to the closing '>'.
    while (this.i < this.toks.length && !this.isSpecial(this.peek(), '>')) this.i++;
    if (this.isSpecial(this.peek(), '>')) this.i++;
    if (local === '' && host === null) return { adl, mailbox: '', host: MISSING_DOMAIN };
    return { adl, mailbox: local, host: host || MISSING_DOMAIN };
  }
}

/** RFC 5322 phrase: words joined by single spaces; obs-phrase dots kept. */
function joinPhrase(words: string[]): string {
  let out = '';
  for (const w of words) {
    if (w === '.') out += '.';
    else out += out ? ` ${w}` : w;
  }
  return out;
}

/** Parses an address header value (binary string). Empty result → the caller sends NIL. */
export function parseAddressList(value: string): EnvelopeAddress[] {
  return new Parser(tokenize(value)).parseList();
}
