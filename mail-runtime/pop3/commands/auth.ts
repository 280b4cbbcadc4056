import { decodeSaslPlain } from '../../auth';
import { accept, reject } from './args';
import { login, plaintextRefusal } from './login';
import { AUTHORIZATION, bad, defineCommand, ok, type CommandContext, type CommandResult } from './types';

type AuthArgs = { kind: 'list' } | { kind: 'plain'; initial: string | undefined };

/**
 * RFC 5034 AUTH, mechanism PLAIN (RFC 4616) only. Without arguments it
 * lists the mechanisms (common practice; RFC 5034 leaves it open).
 */
export const AUTH = defineCommand<AuthArgs>({
  name: 'AUTH',
  states: AUTHORIZATION,
  parse(line) {
    const [mechanism, ...rest] = line.args;
    if (mechanism === undefined) return accept({ kind: 'list' });
    if (mechanism.toUpperCase() !== 'PLAIN') return reject('Unsupported authentication mechanism');
    if (rest.length > 1) return reject('Invalid arguments');
    return accept({ kind: 'plain', initial: rest[0] });
  },
  async handle(ctx, args) {
    if (args.kind === 'list') return ok('', { body: { kind: 'lines', lines: ctx.plaintextAuthAllowed() ? ['PLAIN'] : [] } });
    const refused = plaintextRefusal(ctx);
    if (refused) return refused;
    // RFC 5034 §4: the initial response, or an empty challenge and the client's answer.
    if (args.initial !== undefined) return plain(ctx, args.initial);
    const answer = await ctx.challenge('');
    if (!answer) return bad('Connection closed');
    if (answer.kind === 'overflow') return bad('Line too long');
    return plain(ctx, answer.text);
  },
});

async function plain(ctx: CommandContext, response: string): Promise<CommandResult> {
  // RFC 5034 §4: "*" cancels the exchange; "=" is an empty response.
  if (response === '*') return bad('Authentication cancelled');
  const decoded = decodeSaslPlain(response === '=' ? '' : response);
  if (!decoded.ok) return bad(decoded.error);
  const { authzid, username, password } = decoded.creds;
  // RFC 4616 §2: we do not let one user act as another.
  if (authzid && authzid.toLowerCase() !== username.toLowerCase()) return bad('Authorization identity not permitted', 'AUTH');
  return login(ctx, username, password);
}
