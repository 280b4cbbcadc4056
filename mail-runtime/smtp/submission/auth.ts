import { normalizeAddress } from '../../auth';
import { plaintextAuthAllowed } from '../../net';
import { SMTP_LIMITS, type AuthVerdict, type Credentials, type PhaseContext } from '../common';
import type { Reply } from '../filters/types';
import { SUBMISSION_REPLIES } from './replies';
import type { SubmissionDeps } from './types';

/**
 * Before AUTH reads any credentials: PLAIN and LOGIN send the password in
 * the clear, so without TLS they are allowed only where config
 * `plaintextAuth` says (loopback by default), else 538 5.7.11 (RFC 4954
 * §4, §6) — the same policy as IMAP's LOGINDISABLED and POP3's.
 */
export function authGate(deps: SubmissionDeps, ctx: PhaseContext): Reply | undefined {
  return plaintextAuthAllowed(deps.plaintextAuth, ctx.session.secure, ctx.conn.hopIp) ? undefined : SUBMISSION_REPLIES.encryptionRequired;
}

/**
 * AUTH PLAIN / LOGIN (RFC 4954, RFC 4616) through the Authenticator every
 * protocol uses: its limiter, delays, per-connection failure count
 * (config `limits.loginFailuresPerConnection`) and log line; it says when
 * to hang up.
 */
export async function auth(deps: SubmissionDeps, ctx: PhaseContext, creds: Credentials): Promise<AuthVerdict> {
  const { conn } = ctx;
  // No proxy logins: an authorization identity must name the same user (RFC 4616 §2).
  if (creds.authzid && normalizeAddress(creds.authzid) !== normalizeAddress(creds.username)) {
    conn.authFailures++;
    return { ok: false, reply: SUBMISSION_REPLIES.badCredentials, hangUp: conn.authFailures >= SMTP_LIMITS.authFailuresPerConnection };
  }
  const res = await deps.auth.login(creds.username, creds.password, { ip: conn.remoteIp, protocol: 'submission', connectionId: conn.id });
  if (res.ok) {
    conn.log.info({ user: res.user.address, method: creds.method }, 'submission login');
    return { ok: true, user: res.user };
  }
  if (res.reason === 'unavailable') return { ok: false, reply: SUBMISSION_REPLIES.authUnavailable };
  conn.authFailures++;
  return { ok: false, reply: res.reason === 'failed' ? SUBMISSION_REPLIES.badCredentials : SUBMISSION_REPLIES.authUnavailable, hangUp: res.disconnect };
}
