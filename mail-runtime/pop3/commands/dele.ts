import { noArgs, oneMessageNumber } from './args';
import { TRANSACTION, bad, defineCommand, ok, transactionOf } from './types';

/** RFC 1939 §5 DELE msg: marks it; the UPDATE state (QUIT) removes it. */
export const DELE = defineCommand({
  name: 'DELE',
  states: TRANSACTION,
  parse: oneMessageNumber('Usage: DELE msg'),
  async handle(ctx, number) {
    const txn = transactionOf(ctx);
    const found = txn.find(number);
    if (!found.found) return bad(found.error);
    txn.markDeleted(number);
    return ok(`Message ${number} deleted`);
  },
});

/** RFC 1939 §5 RSET: unmarks every message. */
export const RSET = defineCommand({
  name: 'RSET',
  states: TRANSACTION,
  parse: noArgs,
  async handle(ctx) {
    const txn = transactionOf(ctx);
    txn.reset();
    const { count, octets } = txn.summary();
    return ok(`maildrop has ${count} messages (${octets} octets)`);
  },
});

