import { atom, data } from '../protocol';
import { noArgs } from './args';
import { ANY_STATE, defineCommand, okResult } from './types';

/** RFC 3501 §6.1.1 */
export const CAPABILITY = defineCommand({
  name: 'CAPABILITY',
  states: ANY_STATE,
  parse: noArgs,
  async handle(ctx) {
    ctx.send(data(atom('CAPABILITY'), ...ctx.capabilities().map(atom)));
    return okResult('CAPABILITY completed');
  },
});
