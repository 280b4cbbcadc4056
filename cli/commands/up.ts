import type { Command } from 'commander';
import type { CliIo } from '../io';

export function registerUp(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('up')
    .description('start a cluster: --local runs the embedded HA default on this machine')
    .option('--local', 'run 1 hub, 2 nodes, 1 gateway and 1 proxy as child processes on loopback')
    .option('--dir <dir>', 'folder for the local cluster (storage, configs, cluster.json)', '.mailfleet')
    .action((opts: { local?: boolean; dir: string }) => {
      if (!opts.local) {
        io.err('mailfleet up deploys only the local cluster (--local). For Kubernetes, Docker, Proxmox or vSphere use `pulumi up` with a stack in stacks/ (see README).\n');
        setExit(2);
        return;
      }
      // The hub, gateway and proxy roles are not written yet, so there is no
      // cluster to start. Say so plainly and exit cleanly (README's promise).
      io.out(
        [
          'mailfleet: the local embedded cluster is not available yet.',
          'It needs the hub, gateway and proxy roles, which are still being built.',
          'What works today:',
          '  npx mailfleet validate examples/specs/local.yaml   check a topology spec',
          '  npx mailfleet render examples/specs/local.yaml     print every member\'s config',
          '  npx mailfleet run --config <node.json>             run a mail node (IMAP, POP3)',
          '',
        ].join('\n'),
      );
      setExit(0);
    });
}
