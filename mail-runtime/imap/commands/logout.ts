import { untagged } from '../protocol';
import { noArgs } from './args';
import { ANY_STATE, defineCommand, okResult } from './types';

/**
 * RFC 3501 §6.1.3: BYE, tagged OK, close. Nothing between the BYE and the
 * OK: pending mailbox updates are dropped (the session ends), and a mailbox
 * deleted meanwhile does not make a second BYE.
 */
export const LOGOUT = defineCommand({
  name: 'LOGOUT',
  states: ANY_STATE,
  noUpdates: true,
  parse: noArgs,
  async handle(ctx) {
    ctx.send(untagged('BYE', 'Logging out'));
    return { ...okResult('LOGOUT completed'), after: () => ctx.close() };
  },
});
