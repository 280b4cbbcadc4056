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

/**
 * The key a client address is counted under by per-address limits
 * (connections, failed logins): an IPv4 address as is, an IPv6 address by
 * its /64, the smallest prefix a subscriber is given (RFC 6177 §3) — one
 * host can pick any address in it, so counting /128s would count nothing.
 */
export function addressKey(ip: string): string {
  const a = normalizeIp(ip);
  if (isIP(a) !== 6) return a;
  const [head, tail] = a.toLowerCase().split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  // A dotted IPv4 tail (NAT64's 64:ff9b::1.2.3.4) stands for two groups.
  const width = (gs: string[]): number => gs.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - width(left) - width(right))).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
