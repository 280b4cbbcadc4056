import type { Command } from 'commander';
import { hashPassword } from '../../mail-runtime/auth';
import type { CliIo } from '../io';
import { registerUserAdmin } from './user-admin';

/** Longest password we hash: scrypt takes any length, but a pasted file is a mistake, not a password. */
const MAX_PASSWORD_CHARS = 1024;

/**
 * `mailfleet user …`: directory chores. `user hash` prints a password hash
 * for a node's local users file (`directory.file` in its RuntimeConfig), in
 * the self-describing scrypt format the runtime verifies.
 */
export function registerUser(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const user = program.command('user').description('users: add, list, passwd, remove on a running cluster; hash a password for a users file');
  user
    .command('hash')
    .description('print a password hash for a users file; the password comes from a hidden prompt or the first line of stdin, never from the command line')
    .action(async () => {
      let password: string | undefined;
      try {
        password = await io.readSecret('password');
      } catch (err) {
        io.err(`mailfleet user hash: ${(err as Error).message}\n`);
        setExit(1);
        return;
      }
      if (password === undefined || password.length === 0) {
        io.err('mailfleet user hash: no password given (type it at the prompt, or pipe it: `printf %s "$PW" | mailfleet user hash`)\n');
        setExit(1);
        return;
      }
      if (password.length > MAX_PASSWORD_CHARS) {
        io.err(`mailfleet user hash: the password is longer than ${MAX_PASSWORD_CHARS} characters\n`);
        setExit(1);
        return;
      }
      io.out(`${await hashPassword(password)}\n`);
      setExit(0);
    });
  registerUserAdmin(user, io, setExit);
}
