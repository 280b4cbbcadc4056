import { asAstring } from '../protocol';
import { fail, ok } from './args';
import { PRIVACY_REQUIRED, finishLogin } from './login-common';
import { NOT_AUTH, defineCommand } from './types';

/** RFC 3501 §6.2.3 LOGIN userid password (astrings). */
export const LOGIN = defineCommand({
  name: 'LOGIN',
  states: NOT_AUTH,
  parse(args) {
    if (args.length !== 2) return fail('LOGIN needs a user name and a password');
    const user = asAstring(args[0]);
    const pass = asAstring(args[1]);
    if (user === undefined || pass === undefined) return fail('User name and password must be strings');
    if (!user || user.length > 255) return fail('Invalid user name');
    return ok({ user, pass });
  },
  async handle(ctx, { user, pass }) {
    if (!ctx.plaintextAuthAllowed()) return PRIVACY_REQUIRED;
    return finishLogin(ctx, user, pass);
  },
});
