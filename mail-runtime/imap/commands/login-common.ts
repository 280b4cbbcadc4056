import { atom, untagged } from '../protocol';
import type { CommandResult, SessionContext } from './types';

/**
 * Shared end of LOGIN and AUTHENTICATE: the Authenticator applies the
 * failed-login limiter and its delays; the reply carries the new
 * capabilities (RFC 3501 §7.1 CAPABILITY response code) so clients need no
 * extra round trip.
 */
export async function finishLogin(ctx: SessionContext, username: string, password: string): Promise<CommandResult> {
  const res = await ctx.services.auth.login(username, password, { ip: ctx.remoteIp, protocol: 'imap', connectionId: ctx.id });
  if (!res.ok) {
    const result: CommandResult =
      res.reason === 'unavailable'
        ? { status: 'NO', code: { name: 'UNAVAILABLE' }, text: 'Authentication service unavailable, try later' }
        : res.reason === 'throttled'
          ? { status: 'NO', code: { name: 'UNAVAILABLE' }, text: 'Too many failed logins, try later' }
          : { status: 'NO', code: { name: 'AUTHENTICATIONFAILED' }, text: 'Authentication failed' };
    // Too many failures on this connection (config limits.loginFailuresPerConnection): RFC 3501 §7.1.5 BYE after the reply.
    if (res.disconnect) {
      result.after = () => {
        ctx.send(untagged('BYE', 'Too many failed logins'));
        ctx.close();
      };
    }
    return result;
  }
  await ctx.loggedIn(res.user);
  return { status: 'OK', code: { name: 'CAPABILITY', args: ctx.capabilities().map(atom) }, text: 'Logged in' };
}

/** RFC 3501 §6.2.3 / RFC 5530 PRIVACYREQUIRED: refuse cleartext credentials where the policy says so. */
export const PRIVACY_REQUIRED: CommandResult = {
  status: 'NO',
  code: { name: 'PRIVACYREQUIRED' },
  text: 'Plaintext authentication disallowed on non-encrypted connections, use STARTTLS',
};
