import { isIP } from 'node:net';

/** Strips the IPv4-mapped IPv6 prefix so `::ffff:127.0.0.1` reads as `127.0.0.1`. */
export function normalizeIp(ip: string | undefined): string {
  if (!ip) return '';
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** True for 127.0.0.0/8 and ::1: the only peers that may log in in plaintext by default. */
export function isLoopback(ip: string | undefined): boolean {
  const a = normalizeIp(ip);
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** Plaintext-auth policy shared by IMAP (LOGINDISABLED, RFC 3501 §6.2.3) and POP3 (RFC 2595 §4). */
export type PlaintextAuthPolicy = 'loopback' | 'always' | 'never';

export function plaintextAuthAllowed(policy: PlaintextAuthPolicy, secure: boolean, remoteIp: string | undefined): boolean {
  if (secure) return true;
  if (policy === 'always') return true;
  if (policy === 'never') return false;
  return isLoopback(remoteIp);
}
