import { noArgs } from './args';
import { TRANSACTION, defineCommand, ok, transactionOf } from './types';

/** RFC 1939 §5 STAT: "+OK count octets" of the messages not marked deleted. */
export const STAT = defineCommand({
  name: 'STAT',
  states: TRANSACTION,
  parse: noArgs,
  async handle(ctx) {
    const { count, octets } = transactionOf(ctx).summary();
    return ok(`${count} ${octets}`);
  },
});
