import { isStoreError } from '../../store';
import { tagged, type ImapCommand } from '../protocol';
import { storeErrorResult } from './errors';
import { REGISTRY } from './registry';
import { parseOptions, type CommandResult, type SessionContext, type SessionState } from './types';

/**
 * Runs one command: look up, check state, check arguments, run the handler,
 * send pending mailbox updates, write the tagged reply. A handler never
 * writes its own tagged reply, and an exception in it becomes a tagged NO
 * with a log line, never a dead connection (CONVENTIONS.md).
 */
export async function dispatch(ctx: SessionContext, cmd: ImapCommand): Promise<void> {
  const key = cmd.uid ? `UID ${cmd.name}` : cmd.name;
  const spec = REGISTRY.get(key);
  if (!spec) {
    ctx.send(tagged(cmd.tag, 'BAD', `Unknown command ${key.slice(0, 40)}`));
    ctx.countBad();
    return;
  }
  if (!spec.states.includes(ctx.state)) {
    ctx.send(tagged(cmd.tag, 'BAD', stateText(ctx.state, key, spec.states)));
    ctx.countBad();
    return;
  }
  const parsed = spec.parse(cmd.args, cmd, parseOptions(ctx));
  if (!parsed.ok) {
    // Over an implementation limit is not a syntax error (RFC 5530 §3 LIMIT): NO, and not counted as bad.
    // Nor is a well-formed command that cannot be carried out (e.g. a mailbox name that is not modified UTF-7).
    if (parsed.limit || parsed.refuse) {
      ctx.send(tagged(cmd.tag, 'NO', `${key}: ${parsed.error}`, { name: parsed.refuse ?? 'LIMIT' }));
      return;
    }
    ctx.send(tagged(cmd.tag, 'BAD', `${key}: ${parsed.error}`));
    ctx.countBad();
    return;
  }
  let result: CommandResult;
  try {
    result = await spec.handle(ctx, parsed.value, cmd);
  } catch (err) {
    const mapped = storeErrorResult(err);
    if (mapped) {
      result = mapped;
      if (isStoreError(err, 'STALE_EPOCH')) {
        ctx.log.warn({ command: key }, 'mailbox ownership lost');
        result.after = () => ctx.close();
      }
    } else {
      ctx.log.error({ command: key, err }, 'command failed');
      result = { status: 'NO', code: { name: 'SERVERBUG' }, text: `${key} failed: internal error` };
    }
  }
  if (ctx.state === 'SELECTED' && !spec.noUpdates && !(await ctx.flushNotifications(!spec.holdExpunges))) return;
  ctx.send(tagged(cmd.tag, result.status, result.text, result.code));
  if (result.status === 'BAD') ctx.countBad();
  else ctx.resetBad();
  if (result.after) await result.after();
}

function stateText(state: SessionState, name: string, valid: readonly SessionState[]): string {
  if (state === 'NOT_AUTHENTICATED' && !valid.includes('NOT_AUTHENTICATED')) return `${name} not allowed now: log in first`;
  if (state === 'AUTHENTICATED' && valid.includes('SELECTED')) return `${name} not allowed now: no mailbox selected`;
  return `${name} not allowed in this state`;
}
