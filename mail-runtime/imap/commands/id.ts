import { asNString, atom, data, list, str, type ImapValue } from '../protocol';
import { fail, ok } from './args';
import { ANY_STATE, defineCommand, okResult } from './types';

/** RFC 2971 §3.3: at most 30 field-value pairs, field names up to 30 octets, values up to 1024. */
const MAX_PAIRS = 30;

/** RFC 2971 ID: logs what the client says about itself, answers with our name and version. */
export const ID = defineCommand({
  name: 'ID',
  states: ANY_STATE,
  parse(args) {
    if (args.length !== 1) return fail('ID needs NIL or a parenthesised list');
    const arg: ImapValue = args[0];
    if (arg.type === 'nil') return ok<Record<string, string | null>>({});
    if (arg.type !== 'list' || arg.items.length % 2 !== 0 || arg.items.length > MAX_PAIRS * 2) {
      return fail('ID needs NIL or a list of field/value pairs');
    }
    const fields: Record<string, string | null> = {};
    for (let i = 0; i < arg.items.length; i += 2) {
      const k = asNString(arg.items[i]);
      const v = asNString(arg.items[i + 1]);
      if (typeof k !== 'string' || k.length > 30 || v === undefined || (v !== null && v.length > 1024)) {
        return fail('Invalid ID field/value');
      }
      fields[k.toLowerCase()] = v;
    }
    return ok(fields);
  },
  async handle(ctx, fields) {
    if (Object.keys(fields).length) ctx.log.info({ client: fields }, 'client id');
    ctx.send(data(atom('ID'), list([str('name'), str('mailfleet'), str('version'), str(ctx.services.version)])));
    return okResult('ID completed');
  },
});
