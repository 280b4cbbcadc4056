import type { Command } from 'commander';
import { LocalCluster } from '../local/launcher';
import type { CliIo } from '../io';

/** Most nodes a local cluster runs (each takes 8 ports and a process). */
const MAX_LOCAL_NODES = 8;
/** Most hubs: one active and standbys; more than two adds processes and no safety on one machine. */
const MAX_LOCAL_HUBS = 3;

interface UpOptions {
  local?: boolean;
  dir: string;
  hubs: string;
  nodes: string;
  portOffset: string;
  restart: boolean;
}

export function registerUp(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('up')
    .description('start a cluster: --local runs the hub and mail nodes on this machine (npm start)')
    .option('--local', 'run the hub(s), the mail nodes, a gateway and a proxy as child processes on loopback')
    .option('--dir <dir>', 'folder for the local cluster (storage, configs, secrets, logs, cluster.json)', '.mailfleet')
    .option('--hubs <n>', `hubs (1 to ${MAX_LOCAL_HUBS}): the first is active, the others standbys that take over when it dies`, '1')
    .option('--nodes <n>', `mail nodes (1 to ${MAX_LOCAL_NODES})`, '2')
    .option('--port-offset <n>', 'added to every port (hub 2580, members from 2600 up)', '0')
    .option('--no-restart', 'leave a member that exits down (default: the launcher restarts it)')
    .action(async (opts: UpOptions) => {
      if (!opts.local) {
        io.err('mailfleet up deploys only the local cluster (--local). For Kubernetes, Docker, Proxmox or vSphere use `pulumi up` with a stack in stacks/ (see README).\n');
        setExit(2);
        return;
      }
      const nodes = Number(opts.nodes);
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_LOCAL_NODES) {
        io.err(`--nodes must be a whole number from 1 to ${MAX_LOCAL_NODES} (got "${opts.nodes}")\n`);
        setExit(2);
        return;
      }
      const hubs = Number(opts.hubs);
      if (!Number.isInteger(hubs) || hubs < 1 || hubs > MAX_LOCAL_HUBS) {
        io.err(`--hubs must be a whole number from 1 to ${MAX_LOCAL_HUBS} (got "${opts.hubs}")\n`);
        setExit(2);
        return;
      }
      const portOffset = Number(opts.portOffset);
      if (!Number.isInteger(portOffset) || portOffset < 0 || portOffset > 60_000) {
        io.err(`--port-offset must be a whole number from 0 to 60000 (got "${opts.portOffset}")\n`);
        setExit(2);
        return;
      }
      const cluster = new LocalCluster({ dir: opts.dir, hubs, nodes, portOffset, restart: opts.restart, out: (s) => io.out(s), err: (s) => io.err(s) });
      const stopped = new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      try {
        await Promise.race([cluster.start(), stopped]);
      } catch (err) {
        io.err(`mailfleet up: ${(err as Error).message}\n`);
        await cluster.stop();
        setExit(1);
        return;
      }
      const signal = await stopped;
      io.out(`mailfleet: ${signal}: stopping the cluster\n`);
      await cluster.stop();
      io.out('mailfleet: stopped\n');
      setExit(0);
    });
}
