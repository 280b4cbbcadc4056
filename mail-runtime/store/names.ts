import * as path from 'node:path';
import { LIMITS } from '../common/limits';
import { decodeModifiedUtf7, encodeModifiedUtf7 } from './mutf7';
import { StoreError } from './types';

/**
 * Folder names and mailbox addresses → paths. Nothing here touches the disk.
 *
 * API names are UTF-8 with `/` as delimiter. On disk we use Dovecot's
 * Maildir++ layout: INBOX is the user directory itself; every other folder
 * is one directory `<user>/.<seg1>.<seg2>...` directly below it. Each segment
 * is written in modified UTF-7 (what Dovecot stores by default), then the
 * characters that would break Maildir++ are escaped the way Dovecot's
 * listescape plugin does (`\NN` lowercase hex): `.` → `\2e`, `\` → `\5c`, a
 * leading `~` → `\7e`. So `Lists/v1.2` is `.Lists.v1\2e2`; Dovecot with
 * `separator = /` and listescape reads the same tree.
 */

const INBOX = 'INBOX';

function badName(name: string, why: string): StoreError {
  return new StoreError('BADNAME', `invalid folder name ${JSON.stringify(name.slice(0, 100))}: ${why}`);
}

/** Control characters C0, DEL and C1 are never allowed (RFC 3501 §5.1 discourages them, RFC 5198 bans them). */
 
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** With the u flag, \p{Cs} matches only unpaired surrogates. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Validate and canonicalise an API folder name. Returns the canonical name
 * (`INBOX` upper-cased as first segment, one trailing `/` dropped).
 * Throws StoreError BADNAME.
 */
export function normalizeFolderName(name: unknown): string {
  if (typeof name !== 'string') throw badName(String(name), 'not a string');
  let n = name;
  if (n.length > 1 && n.endsWith('/')) n = n.slice(0, -1); // RFC 3501 §6.3.3: trailing delimiter = intent to hold children
  if (n.length === 0) throw badName(name, 'empty');
  if (LONE_SURROGATE.test(n)) throw badName(name, 'not valid UTF-16 (lone surrogate)');
  if (Buffer.byteLength(n, 'utf8') > LIMITS.folderNameBytes) throw badName(name, `longer than ${LIMITS.folderNameBytes} bytes`);
  if (CONTROL.test(n)) throw badName(name, 'control character');
  if (n.includes('*') || n.includes('%')) throw badName(name, 'LIST wildcard character');
  const segs = n.split('/');
  if (segs.length > LIMITS.folderDepth) throw badName(name, `deeper than ${LIMITS.folderDepth} levels`);
  for (const s of segs) {
    if (s === '') throw badName(name, 'empty hierarchy level (absolute path or "//")');
    if (s === '.' || s === '..') throw badName(name, `"${s}" level`);
    if (s.trim() === '') throw badName(name, 'blank level');
  }
  if (segs[0].toUpperCase() === INBOX) segs[0] = INBOX;
  const canonical = segs.join('/');
  // The directory entry must fit NAME_MAX on every filesystem.
  if (canonical !== INBOX && Buffer.byteLength(diskNameUnchecked(canonical)) > 255) throw badName(name, 'too long once encoded on disk');
  return canonical;
}

function escapeSegment(seg: string): string {
  const m = encodeModifiedUtf7(seg);
  let out = '';
  for (let i = 0; i < m.length; i++) {
    const c = m[i];
    if (c === '.') out += '\\2e';
    else if (c === '\\') out += '\\5c';
    else if (c === '~' && i === 0) out += '\\7e';
    else out += c;
  }
  return out;
}

function diskNameUnchecked(canonical: string): string {
  return '.' + canonical.split('/').map(escapeSegment).join('.');
}

/** Maildir++ directory name (relative to the user dir) of a canonical non-INBOX folder name. */
export function folderDiskName(canonical: string): string {
  if (canonical === INBOX) throw new Error('INBOX is the user directory itself');
  return diskNameUnchecked(canonical);
}

/** Absolute Maildir path of a canonical folder. */
export function folderPath(userDir: string, canonical: string): string {
  return canonical === INBOX ? userDir : path.join(userDir, folderDiskName(canonical));
}

/**
 * Decode a directory entry of the user dir back to a folder name, or null if
 * it is not a folder we would have written (foreign or non-canonical names
 * are ignored rather than guessed at).
 */
export function folderNameFromDisk(entry: string): string | null {
  if (!entry.startsWith('.') || entry === '.' || entry === '..') return null;
  const segs = entry.slice(1).split('.');
  const out: string[] = [];
  for (const seg of segs) {
    let un = '';
    for (let i = 0; i < seg.length; i++) {
      if (seg[i] !== '\\') {
        un += seg[i];
        continue;
      }
      const hex = seg.slice(i + 1, i + 3);
      if (hex === '2e') un += '.';
      else if (hex === '5c') un += '\\';
      else if (hex === '7e') un += '~';
      else return null;
      i += 2;
    }
    try {
      out.push(decodeModifiedUtf7(un));
    } catch {
      return null;
    }
  }
  const name = out.join('/');
  try {
    const canonical = normalizeFolderName(name);
    if (canonical === INBOX || folderDiskName(canonical) !== entry) return null;
    return canonical;
  } catch {
    return null;
  }
}

export function parentOf(canonical: string): string | null {
  const i = canonical.lastIndexOf('/');
  return i < 0 ? null : canonical.slice(0, i);
}

export function isDescendant(name: string, ancestor: string): boolean {
  return name.startsWith(ancestor + '/');
}

// ---------------------------------------------------------------------------
// Addresses

/** RFC 5322 atext, plus any non-ASCII code point (RFC 6531 SMTPUTF8). */
const ATEXT = /^[A-Za-z0-9!#$%&'*+\-=?^_`{|}~\u0080-\uffff]+$/;
const DOMAIN_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export interface ParsedAddress {
  address: string;
  local: string;
  domain: string;
}

/**
 * Mailbox address → canonical form. Local parts are folded to lower case
 * (mailboxes are case-insensitive here, as at most providers); the domain
 * must be an A-label (IDNA) name. Throws BADNAME.
 */
export function parseAddress(address: unknown): ParsedAddress {
  const bad = (why: string) => new StoreError('BADNAME', `invalid mailbox address ${JSON.stringify(String(address).slice(0, 100))}: ${why}`);
  if (typeof address !== 'string') throw bad('not a string');
  const a = address.trim().toLowerCase();
  const at = a.lastIndexOf('@');
  if (at <= 0 || at === a.length - 1) throw bad('expected local@domain');
  const local = a.slice(0, at);
  const domain = a.slice(at + 1);
  if (Buffer.byteLength(local) > 64) throw bad('local part longer than 64 octets (RFC 5321 §4.5.3.1.1)');
  if (domain.length > 253) throw bad('domain longer than 253 octets');
  if (CONTROL.test(local) || LONE_SURROGATE.test(local)) throw bad('control character');
  // dot-atom (RFC 5322 §3.2.3): no leading/trailing dot, no "..", so never "." or "..".
  if (!local.split('.').every((p) => ATEXT.test(p))) throw bad('local part is not a dot-atom');
  const labels = domain.split('.');
  if (labels.length < 1 || !labels.every((l) => DOMAIN_LABEL.test(l))) throw bad('domain is not a valid host name');
  return { address: `${local}@${domain}`, local, domain };
}

/** `<root>/mail/<domain>/<local>`; the checks above keep it inside `<root>/mail`. */
export function userDirOf(root: string, a: ParsedAddress): string {
  const base = path.resolve(root, 'mail');
  const dir = path.resolve(base, a.domain, a.local);
  if (path.dirname(path.dirname(dir)) !== base) throw new StoreError('BADNAME', 'address escapes the mail root');
  return dir;
}
