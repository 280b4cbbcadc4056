import { atom, data, list, str } from '../protocol';
import { HIERARCHY_DELIMITER } from '../../store';
import { noArgs } from './args';
import { OTHER_USERS, SHARED } from './shared';
import { AUTH_OR_SELECTED, defineCommand, okResult } from './types';

/**
 * RFC 2342: the personal namespace (empty prefix) and the other users'
 * namespace `Other Users/` (shared.ts), where folders others shared with
 * the user appear as `Other Users/<address>/<folder>`, and the shared
 * namespace `Shared/` (§5), her domain's folders that belong to no user.
 */
export const NAMESPACE = defineCommand({
  name: 'NAMESPACE',
  states: AUTH_OR_SELECTED,
  parse: noArgs,
  async handle(ctx) {
    ctx.send(data(atom('NAMESPACE'), list([list([str(''), str(HIERARCHY_DELIMITER)])]), list([list([str(OTHER_USERS + HIERARCHY_DELIMITER), str(HIERARCHY_DELIMITER)])]), list([list([str(SHARED + HIERARCHY_DELIMITER), str(HIERARCHY_DELIMITER)])])));
    return okResult('NAMESPACE completed');
  },
});
