import { optionalMessageNumber } from './args';
import { TRANSACTION, bad, defineCommand, ok, transactionOf, type CommandContext, type CommandResult } from './types';
import type { NumberedMessage } from '../transaction';

/** LIST (RFC 1939 §5) and UIDL (§7) differ only in what follows the message number. */
function listing(ctx: CommandContext, number: number | undefined, field: (m: NumberedMessage) => string | number, header: (count: number, octets: number) => string): CommandResult {
  const txn = transactionOf(ctx);
  if (number !== undefined) {
    const found = txn.find(number);
    return found.found ? ok(`${number} ${field(found.message)}`) : bad(found.error);
  }
  const { count, octets } = txn.summary();
  return ok(header(count, octets), { body: { kind: 'lines', lines: txn.live().map((m) => `${m.number} ${field(m)}`) } });
}

/** RFC 1939 §5 LIST [msg]: sizes in octets. */
export const LIST = defineCommand({
  name: 'LIST',
  states: TRANSACTION,
  parse: optionalMessageNumber,
  async handle(ctx, number) {
    return listing(ctx, number, (m) => m.size, (count, octets) => `${count} messages (${octets} octets)`);
  },
});

/** RFC 1939 §7 UIDL [msg]: unique ids that stay the same across sessions. */
export const UIDL = defineCommand({
  name: 'UIDL',
  states: TRANSACTION,
  parse: optionalMessageNumber,
  async handle(ctx, number) {
    return listing(ctx, number, (m) => m.uniqueId, () => 'Unique-ID listing follows');
  },
});
