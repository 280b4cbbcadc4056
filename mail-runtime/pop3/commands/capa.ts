import { noArgs } from './args';
import { AUTHORIZATION_OR_TRANSACTION, defineCommand, ok, type CommandContext } from './types';

/** What we always offer (RFC 2449 §6); EXPIRE NEVER: we never delete on our own. */
const ALWAYS = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'EXPIRE NEVER', 'IMPLEMENTATION mailfleet'] as const;

/** The capability list for the session as it is now. */
export function capabilities(ctx: CommandContext): string[] {
  const caps: string[] = [...ALWAYS];
  if (ctx.state === 'AUTHORIZATION') {
    // RFC 2595 §4 / RFC 2449 §6: do not advertise what would be refused.
    if (ctx.plaintextAuthAllowed()) caps.push('USER', 'SASL PLAIN');
    if (ctx.services.tls && !ctx.secure) caps.push('STLS');
  }
  return caps;
}

/** RFC 2449 §5: valid in AUTHORIZATION and TRANSACTION; the list may differ between them. */
export const CAPA = defineCommand({
  name: 'CAPA',
  states: AUTHORIZATION_OR_TRANSACTION,
  parse: noArgs,
  async handle(ctx) {
    return ok('Capability list follows', { body: { kind: 'lines', lines: capabilities(ctx) } });
  },
});
