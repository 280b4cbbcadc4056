import type { SessionState } from './types';

export interface CapabilityInput {
  state: SessionState;
  secure: boolean;
  /** TLS material configured (STARTTLS can be offered). */
  tls: boolean;
  /** LOGIN / AUTHENTICATE PLAIN allowed on this connection now. */
  plaintextAllowed: boolean;
}

/** Extensions offered in every state (each is implemented by a command file here). */
const EXTENSIONS = [
  'ID', // RFC 2971
  'ENABLE', // RFC 5161
  'IDLE', // RFC 2177
  'NAMESPACE', // RFC 2342
  'UIDPLUS', // RFC 4315
  'MOVE', // RFC 6851
  'UNSELECT', // RFC 3691
  'SPECIAL-USE', // RFC 6154
  'LIST-EXTENDED', // RFC 5258 (list.ts)
  'LIST-STATUS', // RFC 5819
  'CONDSTORE', // RFC 7162
  'QRESYNC', // RFC 7162 §3.2 (select.ts, fetch.ts, vanished.ts)
  'QUOTA', // RFC 9208
  'QUOTA=RES-STORAGE',
  'QUOTA=RES-MESSAGE',
  'ESEARCH', // RFC 4731 (search.ts, esearch.ts)
  'SEARCHRES', // RFC 5182 (`$` in sets.ts)
  'SORT', // RFC 5256 (sort.ts)
  'SORT=DISPLAY', // RFC 5957
  'THREAD=ORDEREDSUBJECT', // RFC 5256 (thread.ts)
  'THREAD=REFERENCES',
  'ESORT', // RFC 5267 §3 (esort.ts)
  'CONTEXT=SEARCH', // RFC 5267 §4: RETURN (CONTEXT UPDATE PARTIAL), ADDTO/REMOVEFROM, CANCELUPDATE, NOUPDATE (context-update.ts)
  'CONTEXT=SORT',
  'BINARY', // RFC 3516 (fetch.ts, message/render.ts; APPEND takes literal8)
  'STATUS=SIZE', // RFC 8438 (status.ts; LIST RETURN (STATUS (SIZE)) too)
  'CREATE-SPECIAL-USE', // RFC 6154 §3 (mailboxes.ts)
  'MULTIAPPEND', // RFC 3502 (append.ts; all or none, store appendMany)
  'ACL', // RFC 4314 (acl.ts; enforced through shared.ts in every command that touches a mailbox)
  'RIGHTS=texk', // RFC 4314 §2.1.1: t, e, x, k are separate rights (rights.ts)
  'OBJECTID', // RFC 8474 (objectid.ts; MAILBOXID in CREATE, SELECT, STATUS; FETCH and SEARCH EMAILID, THREADID)
  'I18NLEVEL=1', 'I18NLEVEL=2', // RFC 5255 §4.3/§4.4: i;unicode-casemap in SEARCH, SORT, THREAD; COMPARATOR (comparator.ts)
] as const;

/**
 * RFC 7888: before login only credentials travel and a stranger must not
 * make us read big literals, so `{n+}` is capped at 4096 octets (LITERAL-,
 * §5); after login any literal up to the configured cap may be sent
 * without waiting (LITERAL+, §3), which pipelined APPEND needs. The RFC
 * forbids advertising both at once (§5); the list changes at login
 * (RFC 3501 §7.2.1), and the LOGIN reply carries the new one.
 */
function literalCapability(state: SessionState): 'LITERAL-' | 'LITERAL+' {
  return state === 'NOT_AUTHENTICATED' ? 'LITERAL-' : 'LITERAL+';
}

/**
 * The CAPABILITY list for a connection. Before login it says how to log in
 * (RFC 3501 §6.2.3: LOGINDISABLED when plaintext login is refused; STARTTLS
 * when it can be upgraded); after login the login mechanics disappear, as
 * RFC 3501 §7.2.1 allows the list to change.
 */
export function capabilities(c: CapabilityInput): string[] {
  // RFC 9051 Appendix A: both revisions; IMAP4rev2 behaviour after ENABLE IMAP4rev2 (enable.ts).
  // Its base set (Appendix E item 2) is in EXTENSIONS and SASL-IR, LITERAL+ (a superset of LITERAL-).
  const caps: string[] = ['IMAP4rev1', 'IMAP4rev2'];
  if (c.state === 'NOT_AUTHENTICATED') {
    if (c.tls && !c.secure) caps.push('STARTTLS');
    if (c.plaintextAllowed) caps.push('AUTH=PLAIN');
    else caps.push('LOGINDISABLED');
  }
  caps.push('SASL-IR' /* RFC 4959 */, literalCapability(c.state), ...EXTENSIONS);
  return caps;
}
