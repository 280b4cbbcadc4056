import { Command, CommanderError } from 'commander';
import { commands } from './commands';
import type { CliIo } from './io';
import { loadComponents } from './load-components';
import { firstLine, promptSecretTwice } from './secret-input';

/**
 * `mailfleet` — one entry, subcommands. Each subcommand lives in
 * ./commands/<name>.ts and returns an exit code; nothing here calls
 * process.exit, so the CLI can be driven in-process by tests and by `bin/`.
 */

export function version(): string {
  // Found by walking up, so it is right from cli/ and from the compiled dist/cli/ alike.
  return loadComponents().packageInfo().version;
}

export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command('mailfleet')
    .description('Highly available mail clusters as code: validate topologies, render member configs, run the mail runtime.')
    // What commander's .version() does, with the version read only when asked
    // for: reading it loads components/ (and Pulumi), which most commands skip.
    .option('-v, --version', 'print the mailfleet version')
    .on('option:version', () => {
      io.out(`${version()}\n`);
      throw new CommanderError(0, 'commander.version', version());
    })
    .showHelpAfterError('(run `mailfleet help` for the list of commands)')
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride();
  for (const register of commands) register(program, io, setExit);
  program.helpCommand('help [command]', 'show help for mailfleet or one command');
  return program;
}

export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv]);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version "fail" with code 0; usage errors were already printed.
      return err.exitCode;
    }
    io.err(`mailfleet: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

function processIo(): CliIo {
  return {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    readSecret: (prompt) => (process.stdin.isTTY ? promptSecretTwice(process.stdin, process.stderr, prompt) : firstLine(process.stdin)),
  };
}
