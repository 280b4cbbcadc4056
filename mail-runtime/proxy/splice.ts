import type { Socket } from 'node:net';

/** After one side has closed, the other gets this long to take the last bytes before it is destroyed. */
const CLOSE_LINGER_MS = 5000;

/**
 * Pipes bytes both ways between the client and the node until either side
 * closes, then ends the other (pipe() applies back-pressure each way, so a
 * slow reader slows the writer instead of filling our memory). `pending`
 * is what the client sent after its login command and `backendRest` what
 * the node sent after its answer: both go through first, in order.
 * Returns a function that ends the session at once (the node lost the
 * mailbox, the proxy stops).
 */
export function splice(client: Socket, backend: Socket, pending: Buffer, backendRest: Buffer, onEnd: () => void): () => void {
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    onEnd();
  };
  const kill = (): void => {
    client.destroy();
    backend.destroy();
    finish();
  };
  const closed = (other: Socket) => (): void => {
    if (other.destroyed) return finish();
    other.end();
    const t = setTimeout(kill, CLOSE_LINGER_MS);
    t.unref();
    other.once('close', () => {
      clearTimeout(t);
      finish();
    });
  };
  client.setKeepAlive(true, 60_000);
  backend.setKeepAlive(true, 60_000);
  if (backendRest.length) client.write(backendRest);
  if (pending.length) backend.write(pending);
  client.pipe(backend);
  backend.pipe(client);
  client.once('close', closed(backend));
  backend.once('close', closed(client));
  client.on('error', kill);
  backend.on('error', kill);
  client.resume();
  backend.resume();
  return kill;
}
