import type { Command } from 'commander';
import type { CliIo } from '../io';
import { loadSpecFile, summarize } from '../spec-file';

export function registerValidate(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('validate')
    .description('check a topology spec file (cluster or failover pair); exit 1 listing every bad field')
    .argument('<spec>', 'spec file (YAML or JSON)')
    .action((file: string) => {
      try {
        const spec = loadSpecFile(file);
        io.out(`ok: ${file}: ${summarize(spec)}\n`);
        setExit(0);
      } catch (err) {
        io.err(`${file}: ${(err as Error).message}\n`);
        setExit(1);
      }
    });
}
