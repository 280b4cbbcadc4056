import { noArgs } from './args';
import { NOT_AUTH, badResult, defineCommand, okResult } from './types';

/** RFC 3501 §6.2.1; the upgrade happens after the tagged OK is written. */
export const STARTTLS = defineCommand({
  name: 'STARTTLS',
  states: NOT_AUTH,
  parse: noArgs,
  async handle(ctx) {
    if (!ctx.services.tls) return badResult('TLS is not available');
    if (ctx.secure) return badResult('TLS is already active');
    return { ...okResult('Begin TLS negotiation now'), after: () => ctx.startTls() };
  },
});
