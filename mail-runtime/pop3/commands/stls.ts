import { noArgs } from './args';
import { AUTHORIZATION, bad, defineCommand, ok } from './types';

/**
 * RFC 2595 §4 STLS: only in AUTHORIZATION; the upgrade (net/starttls.ts)
 * happens after `+OK` is on the wire, and drops anything pipelined after it.
 */
export const STLS = defineCommand({
  name: 'STLS',
  states: AUTHORIZATION,
  parse: noArgs,
  async handle(ctx) {
    if (!ctx.services.tls) return bad('TLS not available');
    if (ctx.secure) return bad('Already using TLS');
    return ok('Begin TLS negotiation', { then: 'starttls' });
  },
});
