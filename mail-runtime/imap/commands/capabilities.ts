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
  'SASL-IR', // RFC 4959
  'LITERAL+', // RFC 7888
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
  'SORT', // RFC 5256 (sort.ts)
  'SORT=DISPLAY', // RFC 5957
  'THREAD=ORDEREDSUBJECT', // RFC 5256 (thread.ts)
  'THREAD=REFERENCES',
  'ESORT', // RFC 5267 §3 (esort.ts)
] as const;

/**
 * The CAPABILITY list for a connection. Before login it says how to log in
 * (RFC 3501 §6.2.3: LOGINDISABLED when plaintext login is refused; STARTTLS
 * when it can be upgraded); after login the login mechanics disappear, as
 * RFC 3501 §7.2.1 allows the list to change.
 */
export function capabilities(c: CapabilityInput): string[] {
  const caps: string[] = ['IMAP4rev1'];
  if (c.state === 'NOT_AUTHENTICATED') {
    if (c.tls && !c.secure) caps.push('STARTTLS');
    if (c.plaintextAllowed) caps.push('AUTH=PLAIN');
    else caps.push('LOGINDISABLED');
  }
  caps.push(...EXTENSIONS);
  return caps;
}
