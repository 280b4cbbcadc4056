/**
 * The benchmark's LMTP sink as its own process (the node stand-in until the
 * node's LMTP listener lands): durable like a node (each message written and
 * fsynced before its 250), it prints `{"ready":true,"port":N}` and then one
 * line per delivery with its Message-ID and time, for the 250 → delivered
 * latency. Stops on SIGTERM.
 */
import { startLmtpSink } from '../../test/helpers/lmtp-sink';

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: child.ts <durable dir>');
  let reported = 0;
  const sink = await startLmtpSink({ durableDir: dir });
  const flush = (): void => {
    const lines: string[] = [];
    for (; reported < sink.deliveries.length; reported++) lines.push(JSON.stringify({ d: sink.deliveries[reported]!.messageId, t: sink.deliveries[reported]!.at }));
    // Message bodies are not needed any more: keep memory flat over a long run.
    sink.deliveries.splice(0, sink.deliveries.length);
    reported = 0;
    if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
  };
  const timer = setInterval(flush, 20);
  process.stdout.write(`${JSON.stringify({ ready: true, port: sink.port })}\n`);
  process.once('SIGTERM', () => {
    clearInterval(timer);
    flush();
    void sink.stop().then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
