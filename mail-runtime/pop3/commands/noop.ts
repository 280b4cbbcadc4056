import { noArgs } from './args';
import { TRANSACTION, defineCommand, ok } from './types';

/** RFC 1939 §5 NOOP: only in TRANSACTION. */
export const NOOP = defineCommand({
  name: 'NOOP',
  states: TRANSACTION,
  parse: noArgs,
  async handle() {
    return ok('');
  },
});
