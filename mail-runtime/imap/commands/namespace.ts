import { NIL, atom, data, list, str } from '../protocol';
import { HIERARCHY_DELIMITER } from '../../store';
import { noArgs } from './args';
import { AUTH_OR_SELECTED, defineCommand, okResult } from './types';

/** RFC 2342: one personal namespace with an empty prefix; no other users' or shared namespaces. */
export const NAMESPACE = defineCommand({
  name: 'NAMESPACE',
  states: AUTH_OR_SELECTED,
  parse: noArgs,
  async handle(ctx) {
    ctx.send(data(atom('NAMESPACE'), list([list([str(''), str(HIERARCHY_DELIMITER)])]), NIL, NIL));
    return okResult('NAMESPACE completed');
  },
});
