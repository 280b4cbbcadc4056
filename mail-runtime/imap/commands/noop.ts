import { noArgs } from './args';
import { ANY_STATE, SELECTED, defineCommand, okResult } from './types';

/** RFC 3501 §6.1.2: does nothing; the dispatcher sends pending mailbox updates before the OK. */
export const NOOP = defineCommand({
  name: 'NOOP',
  states: ANY_STATE,
  parse: noArgs,
  async handle() {
    return okResult('NOOP completed');
  },
});

/** RFC 3501 §6.4.1: our writes are durable when acknowledged, so a checkpoint has nothing to do. */
export const CHECK = defineCommand({
  name: 'CHECK',
  states: SELECTED,
  parse: noArgs,
  async handle() {
    return okResult('CHECK completed');
  },
});
