/**
 * The bystander, in a process of its own so that the attackers' work in the
 * bench process cannot delay its measurements: logs in, selects INBOX, then
 * sends NOOP after NOOP between a `start` and a `stop` line on stdin and
 * answers each `stop` with one JSON line of latencies (see probe.ts).
 *
 *   node --import tsx bench/isolation/child.ts <port> <from> <user> <password>
 */
import { createInterface } from 'node:readline';
import { summarize } from './probe';
import { Wire } from './wire';

async function main(argv: string[]): Promise<void> {
  const [port, from, user, password] = argv;
  const wire = await Wire.open(Number(port), { from });
  await wire.readLine();
  const login = await wire.imap(`LOGIN "${user}" "${password}"`);
  if (!login.startsWith('OK')) throw new Error(`bystander login: ${login}`);
  const select = await wire.imap('SELECT INBOX');
  if (!select.startsWith('OK')) throw new Error(`bystander SELECT: ${select}`);
  process.stdout.write('ready\n');
  let running: Promise<void> | undefined;
  let stop = false;
  const ms: number[] = [];
  let failed = 0;
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, arg] = line.split(' ');
    if (cmd === 'start') {
      stop = false;
      ms.length = 0;
      failed = 0;
      const gap = Number(arg) || 20;
      running = (async () => {
        while (!stop && !wire.closed) {
          const t0 = performance.now();
          try {
            const r = await wire.imap('NOOP', 30_000);
            if (r.startsWith('OK')) ms.push(performance.now() - t0);
            else failed++;
          } catch {
            failed++;
          }
          await new Promise((r) => setTimeout(r, gap));
        }
      })();
    } else if (cmd === 'stop') {
      stop = true;
      await running;
      process.stdout.write(`${JSON.stringify(summarize(ms, failed))}\n`);
    } else if (cmd === 'quit') break;
  }
  wire.close();
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bystander: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
