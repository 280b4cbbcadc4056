import { accept, reject } from './args';
import { login, plaintextRefusal } from './login';
import { AUTHORIZATION, bad, defineCommand, ok } from './types';

/** Longest user name we keep for PASS (an address is at most 254 octets, RFC 5321 §4.5.3.1.3). */
const MAX_USER_NAME = 255;

/** RFC 1939 §7 USER name: the rest of the line. */
export const USER = defineCommand({
  name: 'USER',
  states: AUTHORIZATION,
  parse: (line) => (line.rest && line.rest.length <= MAX_USER_NAME ? accept(line.rest) : reject('Missing or invalid user name')),
  async handle(ctx, name) {
    const refused = plaintextRefusal(ctx);
    if (refused) return refused;
    ctx.pendingUser = name;
    return ok('');
  },
});

/** RFC 1939 §7 PASS string: the rest of the line (a password may contain spaces); only right after USER. */
export const PASS = defineCommand({
  name: 'PASS',
  states: AUTHORIZATION,
  parse: (line) => (line.rest ? accept(line.rest) : reject('Missing password')),
  async handle(ctx, password) {
    const refused = plaintextRefusal(ctx);
    if (refused) return refused;
    const user = ctx.pendingUser;
    ctx.pendingUser = undefined;
    if (!user) return bad('USER first');
    return login(ctx, user, password);
  },
});
