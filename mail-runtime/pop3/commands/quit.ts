import { noArgs } from './args';
import { AUTHORIZATION_OR_TRANSACTION, defineCommand, err, ok } from './types';

/**
 * RFC 1939 §4 / §6. From AUTHORIZATION: goodbye. From TRANSACTION: the
 * UPDATE state removes the messages still marked deleted, then goodbye; the
 * maildrop lock is released before the reply so that a client reconnecting
 * right after `+OK` does not meet its own lock ([IN-USE]).
 */
export const QUIT = defineCommand({
  name: 'QUIT',
  states: AUTHORIZATION_OR_TRANSACTION,
  parse: noArgs,
  async handle(ctx) {
    const { hostname } = ctx.services;
    if (ctx.state !== 'TRANSACTION') return ok(`${hostname} POP3 signing off`, { then: 'close' });
    const txn = ctx.enterUpdate();
    let removed = false;
    try {
      removed = await txn.commit();
    } catch (e) {
      ctx.log.error({ err: (e as Error).message, stack: (e as Error).stack }, 'expunge at QUIT failed');
    }
    const left = txn.summary().count;
    await txn.close().catch((e: unknown) => ctx.log.warn({ err: String(e) }, 'closing maildrop failed'));
    // RFC 1939 §6: if removing failed, say so with -ERR (RFC 3206 §4 SYS/TEMP: trying later may work).
    if (!removed) return { ...err('Some deleted messages not removed', 'SYS/TEMP'), then: 'close' };
    return ok(`${hostname} POP3 signing off (${left} messages left)`, { then: 'close' });
  },
});
