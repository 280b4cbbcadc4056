import { decodeSaslPlain } from '../../auth';
import { LIMITS } from '../../common/limits';
import { asAtom, continuation } from '../protocol';
import { fail, ok } from './args';
import { PRIVACY_REQUIRED, finishLogin } from './login-common';
import { NOT_AUTH, badResult, defineCommand, noResult } from './types';

/**
 * RFC 3501 §6.2.2 AUTHENTICATE with SASL PLAIN (RFC 4616), with an initial
 * response on the command line (SASL-IR, RFC 4959; "=" means empty).
 */
export const AUTHENTICATE = defineCommand({
  name: 'AUTHENTICATE',
  states: NOT_AUTH,
  parse(args) {
    if (args.length < 1 || args.length > 2) return fail('AUTHENTICATE needs a mechanism');
    const mech = asAtom(args[0], true);
    if (!mech) return fail('Invalid mechanism name');
    let initial: string | undefined;
    if (args.length === 2) {
      initial = asAtom(args[1]);
      if (initial === undefined) return fail('Invalid initial response');
      if (initial.length > LIMITS.imapSaslLineBytes) return fail(`Initial response longer than ${LIMITS.imapSaslLineBytes} octets`);
    }
    return ok({ mech, initial });
  },
  async handle(ctx, { mech, initial }) {
    if (mech !== 'PLAIN') return noResult('Unsupported authentication mechanism', { name: 'CANNOT' });
    if (!ctx.plaintextAuthAllowed()) return PRIVACY_REQUIRED;
    let response = initial;
    if (response === undefined) {
      ctx.send(continuation(''));
      // RFC 3501 §6.2.2: the response is one line; ours are small (LIMITS.imapSaslLineBytes).
      const line = await ctx.readLine(LIMITS.imapSaslLineBytes);
      if (line === null) return badResult('Connection closed');
      if (line === 'too-long') return badResult(`Authentication response longer than ${LIMITS.imapSaslLineBytes} octets`);
      response = line.toString('latin1');
    }
    // RFC 3501 §6.2.2: "*" cancels the exchange, answered with BAD.
    if (response === '*') return badResult('Authentication cancelled');
    const decoded = decodeSaslPlain(response === '=' ? '' : response);
    if (!decoded.ok) return badResult(decoded.error);
    const { authzid, username, password } = decoded.creds;
    // No proxy logins: an authorization identity must name the same user (RFC 4616 §2).
    if (authzid && authzid.toLowerCase() !== username.toLowerCase()) {
      return noResult('Authorization identity not permitted', { name: 'AUTHORIZATIONFAILED' });
    }
    return finishLogin(ctx, username, password);
  },
});
