import type { CommandContext, CommandResult } from './types';
import { bad, err, ok } from './types';
import { MaildropInUseError } from '../maildrop';
import { Transaction } from '../transaction';

const PLAINTEXT_REFUSED = 'Plaintext authentication disallowed on non-encrypted connections';

/** RFC 2595 §4: USER/PASS and SASL PLAIN only where plaintext credentials are allowed; [AUTH] per RFC 3206 §4. */
export function plaintextRefusal(ctx: CommandContext): CommandResult | undefined {
  return ctx.plaintextAuthAllowed() ? undefined : bad(PLAINTEXT_REFUSED, 'AUTH');
}

/**
 * Checks credentials (PASS, AUTH PLAIN), then opens and locks the maildrop
 * (RFC 1939 §4) and enters TRANSACTION. Response codes: [AUTH] wrong
 * credentials (RFC 3206 §4), [LOGIN-DELAY] throttled (RFC 2449 §8.1.1),
 * [IN-USE] locked by another session (RFC 2449 §8.1.2), [SYS/TEMP] our
 * failure or too busy to check a password now (RFC 3206 §5).
 */
export async function login(ctx: CommandContext, username: string, password: string): Promise<CommandResult> {
  const res = await ctx.services.auth.login(username, password, { ip: ctx.remoteIp, protocol: 'pop3', connectionId: ctx.id });
  if (ctx.closed) return err('Connection closed');
  if (!res.ok) {
    // Too many failures on this connection (config limits.loginFailuresPerConnection): close after the reply.
    const then = res.disconnect ? { then: 'close' as const } : {};
    if (res.reason === 'unavailable') return { ...err('Authentication service unavailable, try later', 'SYS/TEMP'), ...then };
    if (res.reason === 'throttled') return { ...bad('Too many failed logins, try later', 'LOGIN-DELAY'), ...then };
    return { ...bad('Authentication failed', 'AUTH'), ...then };
  }
  let txn: Transaction;
  try {
    txn = await Transaction.open(ctx.services.backend, res.user);
  } catch (e) {
    if (e instanceof MaildropInUseError) {
      ctx.log.info({ user: res.user.address }, 'maildrop in use');
      return err('Mailbox is in use by another POP3 session', 'IN-USE');
    }
    ctx.log.error({ err: (e as Error).message, stack: (e as Error).stack, user: res.user.address }, 'cannot open maildrop');
    return err('Unable to open maildrop', 'SYS/TEMP');
  }
  if (!(await ctx.enterTransaction(res.user, txn))) return err('Connection closed');
  const { count, octets } = txn.summary();
  return ok(`Logged in, ${count} messages (${octets} octets)`);
}
