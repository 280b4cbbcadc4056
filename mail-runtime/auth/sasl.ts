/**
 * SASL PLAIN (RFC 4616 §2): base64 of `authzid NUL authcid NUL passwd`.
 * Shared by IMAP AUTHENTICATE (RFC 3501 §6.2.2), POP3 AUTH (RFC 5034) and SMTP AUTH.
 */
export interface PlainCredentials {
  authzid: string;
  username: string;
  password: string;
}

export type PlainResult = { ok: true; creds: PlainCredentials } | { ok: false; error: string };

export function decodeSaslPlain(b64: string): PlainResult {
  const text = b64.trim();
  // RFC 4648 §4 base64 only; Buffer.from silently skips junk, so check first.
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return { ok: false, error: 'Invalid base64' };
  const raw = Buffer.from(text, 'base64');
  const parts = raw.toString('utf8').split('\u0000');
  if (parts.length !== 3) return { ok: false, error: 'Invalid SASL PLAIN message' };
  const [authzid, username, password] = parts;
  if (!username || !password) return { ok: false, error: 'Missing username or password' };
  return { ok: true, creds: { authzid, username, password } };
}

export function encodeSaslPlain(username: string, password: string, authzid = ''): string {
  return Buffer.from(`${authzid}\u0000${username}\u0000${password}`, 'utf8').toString('base64');
}
