import type { Command } from 'commander';
import YAML from 'yaml';
import { renderRuntimeConfigs } from '../../components';
import type { CliIo } from '../io';
import { loadSpecFile } from '../spec-file';

export function registerRender(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('render')
    .description("print every member's RuntimeConfig rendered from a topology spec")
    .argument('<spec>', 'spec file (YAML or JSON)')
    .option('--format <format>', 'yaml or json', 'yaml')
    .option('--member <id>', 'only this member')
    .action((file: string, opts: { format: string; member?: string }) => {
      if (opts.format !== 'yaml' && opts.format !== 'json') {
        io.err(`--format must be yaml or json (got "${opts.format}")\n`);
        setExit(2);
        return;
      }
      try {
        const members = renderRuntimeConfigs(loadSpecFile(file)).filter((m) => !opts.member || m.memberId === opts.member);
        if (opts.member && members.length === 0) {
          io.err(`no member "${opts.member}" in ${file}\n`);
          setExit(1);
          return;
        }
        const doc = Object.fromEntries(members.map((m) => [m.memberId, m.config]));
        io.out(opts.format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : YAML.stringify(doc));
        setExit(0);
      } catch (err) {
        io.err(`${file}: ${(err as Error).message}\n`);
        setExit(1);
      }
    });
}
