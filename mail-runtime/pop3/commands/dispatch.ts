import { parseCommandLine } from '../wire';
import { REGISTRY } from './registry';
import { bad, err, type ClientLine, type CommandResult, type GateContext, type Pop3State } from './types';

/**
 * The one gate every client line passes: syntax, known command, valid in
 * this state (RFC 1939 §3–§6), arguments; only then the handler. It writes
 * the reply, keeps the bad-command count (a `BAD` result counts, `+OK`
 * resets) and runs what follows the reply (close, STLS). An exception in a
 * handler becomes `-ERR [SYS/TEMP]` and a log line with the stack, never a
 * dead process (CONVENTIONS.md).
 */
export async function dispatch(ctx: GateContext, input: ClientLine): Promise<void> {
  const result = await decide(ctx, input);
  await ctx.reply(result);
  if (result.status === 'BAD') ctx.countBad();
  else if (result.status === 'OK') ctx.resetBad();
  if (result.then === 'close') ctx.close();
  else if (result.then === 'starttls') await ctx.startTls();
}

async function decide(ctx: GateContext, input: ClientLine): Promise<CommandResult> {
  if (input.kind === 'overflow') return bad('Line too long');
  const line = parseCommandLine(input.text);
  if (!line) return bad('Invalid command syntax');
  const spec = REGISTRY.get(line.keyword);
  if (!spec) return bad('Unknown command');
  if (!spec.states.includes(ctx.state)) return bad(stateText(ctx.state));
  try {
    const parsed = spec.parse(line);
    if (!parsed.ok) return bad(parsed.error);
    return await spec.handle(ctx, parsed.value);
  } catch (e) {
    // Never the arguments in the log: PASS carries a password.
    ctx.log.error({ command: line.keyword, err: (e as Error).message, stack: (e as Error).stack }, 'command failed');
    return err('Internal error', 'SYS/TEMP');
  }
}

function stateText(state: Pop3State): string {
  if (state === 'AUTHORIZATION') return 'Not authenticated';
  if (state === 'TRANSACTION') return 'Already authenticated';
  return 'Command not allowed now';
}
