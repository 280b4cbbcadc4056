import { accept, messageNumber, oneMessageNumber, reject } from './args';
import { TRANSACTION, bad, defineCommand, err, ok, transactionOf, type CommandContext, type CommandResult } from './types';

/** Sends message `number` (all of it, or the header and `bodyLines` body lines) as a multi-line response. */
async function send(ctx: CommandContext, number: number, bodyLines: number, text: (size: number) => string): Promise<CommandResult> {
  const txn = transactionOf(ctx);
  const found = txn.find(number);
  if (!found.found) return bad(found.error);
  let message: Buffer;
  try {
    message = await txn.read(found.message);
  } catch (e) {
    // Expunged by IMAP since login, or the storage is away: RFC 3206 §5, trying later may work.
    ctx.log.warn({ uid: found.message.uid, err: e }, 'message unreadable');
    return err('Message no longer available', 'SYS/TEMP');
  }
  return ok(text(found.message.size), { body: { kind: 'message', message, bodyLines } });
}

/** RFC 1939 §5 RETR msg. */
export const RETR = defineCommand({
  name: 'RETR',
  states: TRANSACTION,
  parse: oneMessageNumber('Usage: RETR msg'),
  async handle(ctx, number) {
    return send(ctx, number, Infinity, (size) => `${size} octets`);
  },
});

/** RFC 1939 §7 TOP msg n: the header, the blank line and n lines of the body. */
export const TOP = defineCommand({
  name: 'TOP',
  states: TRANSACTION,
  parse(line) {
    if (line.args.length !== 2) return reject('Usage: TOP msg n');
    const number = messageNumber(line.args[0]);
    if (!number.ok) return number;
    if (!/^[0-9]{1,9}$/.test(line.args[1])) return reject('Invalid line count');
    return accept({ number: number.value, lines: Number(line.args[1]) });
  },
  async handle(ctx, args) {
    return send(ctx, args.number, args.lines, () => 'Top of message follows');
  },
});
