import { NIL, atom, data, list, str } from '../protocol';
import { HIERARCHY_DELIMITER } from '../../store';
import { noArgs } from './args';
import { OTHER_USERS } from './shared';
import { AUTH_OR_SELECTED, defineCommand, okResult } from './types';

/**
 * RFC 2342: the personal namespace (empty prefix) and the other users'
 * namespace `Other Users/` (shared.ts), where folders others shared with
 * the user appear as `Other Users/<address>/<folder>`. No shared namespace.
 */
export const NAMESPACE = defineCommand({
  name: 'NAMESPACE',
  states: AUTH_OR_SELECTED,
  parse: noArgs,
  async handle(ctx) {
    ctx.send(data(atom('NAMESPACE'), list([list([str(''), str(HIERARCHY_DELIMITER)])]), list([list([str(OTHER_USERS + HIERARCHY_DELIMITER), str(HIERARCHY_DELIMITER)])]), NIL));
    return okResult('NAMESPACE completed');
  },
});
