import { untagged } from '../protocol';
import { noArgs } from './args';
import { ANY_STATE, defineCommand, okResult } from './types';

/** RFC 3501 §6.1.3: BYE, tagged OK, close. */
export const LOGOUT = defineCommand({
  name: 'LOGOUT',
  states: ANY_STATE,
  parse: noArgs,
  async handle(ctx) {
    ctx.send(untagged('BYE', 'Logging out'));
    return { ...okResult('LOGOUT completed'), after: () => ctx.close() };
  },
});
