import type { Command } from 'commander';
import YAML from 'yaml';
import { loadComponents } from '../load-components';
import type { CliIo } from '../io';
import { loadSpecFile } from '../spec-file';

interface RenderOptions {
  format: string;
  member?: string;
  users?: string;
}

/**
 * `mailfleet render <spec>`: every member's RuntimeConfig, keyed by member id.
 * With `--member ID` it prints that one member's config on its own, ready for
 * `mailfleet run --config` (README: running a node by hand).
 */
export function registerRender(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('render')
    .description("print every member's RuntimeConfig rendered from a topology spec (--member: one config, ready for `mailfleet run --config`)")
    .argument('<spec>', 'spec file (YAML or JSON)')
    .option('--format <format>', 'yaml or json', 'yaml')
    .option('--member <id>', "only this member, printed as a config file of its own")
    .option('--users <file>', "with --member on a node: the local users file it reads (directory.file; make hashes with `mailfleet user hash`)")
    .action((file: string, opts: RenderOptions) => {
      if (opts.format !== 'yaml' && opts.format !== 'json') {
        io.err(`--format must be yaml or json (got "${opts.format}")\n`);
        setExit(2);
        return;
      }
      if (opts.users && !opts.member) {
        io.err('--users needs --member: it sets the users file of one node\n');
        setExit(2);
        return;
      }
      const print = (doc: unknown) => io.out(opts.format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : YAML.stringify(doc));
      try {
        const members = loadComponents().renderRuntimeConfigs(loadSpecFile(file));
        if (!opts.member) {
          print(Object.fromEntries(members.map((m) => [m.memberId, m.config])));
          setExit(0);
          return;
        }
        const member = members.find((m) => m.memberId === opts.member);
        if (!member) {
          io.err(`no member "${opts.member}" in ${file}; members: ${members.map((m) => m.memberId).join(', ')}\n`);
          setExit(1);
          return;
        }
        if (opts.users && member.config.role !== 'node') {
          io.err(`--users applies to a node; ${member.memberId} is a ${member.config.role}\n`);
          setExit(2);
          return;
        }
        // A node run by hand with its own users file is not a cluster member: without hubUrl/hubUrls it serves alone (node/cluster.ts joins a hub when one is named).
        const { hubUrl: _hubUrl, hubUrls: _hubUrls, clusterTokenFile: _token, ...alone } = member.config as typeof member.config & { hubUrls?: unknown };
        print(opts.users ? { ...alone, directory: { file: opts.users } } : member.config);
        setExit(0);
      } catch (err) {
        io.err(`${file}: ${(err as Error).message}\n`);
        setExit(1);
      }
    });
}
