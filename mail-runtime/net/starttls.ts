import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';

/**
 * How long a client has to finish the TLS handshake after STARTTLS/STLS.
 * Node's own default for implicit-TLS listeners (`tls.Server`
 * `handshakeTimeout`), so both ways into TLS get the same bound; the
 * session's idle timer is stopped meanwhile.
 */
const STARTTLS_HANDSHAKE_TIMEOUT_MS = 120_000;

/** What a session hands over to have its plaintext socket upgraded. */
export interface StartTlsRequest {
  /** The plaintext socket the go-ahead (IMAP `OK`, POP3 `+OK`) was just written to. */
  socket: Socket;
  context: SecureContext;
  /** Removes the session's own listeners from the plaintext socket (and only those: the listener's bookkeeping stays). */
  detach: () => void;
  /**
   * Forgets everything the session read in the clear and has not yet acted
   * on (buffered bytes, split lines, queued commands) and any state a
   * plaintext command left for a later one (a POP3 USER name): a fresh
   * session over TLS, as RFC 3207 §4.2 puts it for SMTP.
   */
  discard: () => void;
  handshakeTimeoutMs?: number;
}

/**
 * STARTTLS, written once for IMAP (RFC 3501 §6.2.1) and POP3 (STLS,
 * RFC 2595 §4). Call it right after the go-ahead reply was written.
 *
 * Order matters, and all of it happens before anything else can run:
 * 1. pause the plaintext socket and detach the session, so no further
 *    plaintext reaches the protocol reader;
 * 2. drop what the reader already holds: commands a client (or a man in the
 *    middle) pipelined after STARTTLS in the same packet must never run as
 *    if they had come over TLS — the STARTTLS command-injection class of
 *    bugs, CVE-2011-0411;
 * 3. wrap the socket in TLS. Bytes that arrive from now on, even ones still
 *    buffered in the paused socket, go to the TLS engine, which
 *    authenticates them: injected plaintext there fails the handshake
 *    instead of becoming a command.
 *
 * Resolves with the TLS socket once the handshake is done; the session then
 * attaches to it with fresh state. Rejects (socket destroyed) when the
 * handshake fails, times out or the peer goes away.
 */
export function startTls(req: StartTlsRequest): Promise<TLSSocket> {
  const { socket } = req;
  socket.pause();
  req.detach();
  req.discard();
  return new Promise((resolve, reject) => {
    let tlsSocket: TLSSocket;
    try {
      tlsSocket = new TLSSocket(socket, { isServer: true, secureContext: req.context });
    } catch (err) {
      socket.destroy();
      reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    // Errors after a failed handshake (and any the session does not handle
    // yet) must never reach the process as uncaught exceptions.
    tlsSocket.on('error', () => undefined);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      tlsSocket.removeListener('secure', onSecure);
      tlsSocket.removeListener('close', onClose);
      tlsSocket.destroy();
      reject(err);
    };
    const onError = (err: Error): void => fail(err);
    const onClose = (): void => fail(new Error('connection closed during the TLS handshake'));
    const onSecure = (): void => {
      clearTimeout(timer);
      tlsSocket.removeListener('error', onError);
      tlsSocket.removeListener('close', onClose);
      resolve(tlsSocket);
    };
    const timer = setTimeout(() => fail(new Error('TLS handshake timed out')), req.handshakeTimeoutMs ?? STARTTLS_HANDSHAKE_TIMEOUT_MS);
    timer.unref();
    tlsSocket.once('error', onError);
    tlsSocket.once('close', onClose);
    tlsSocket.once('secure', onSecure);
  });
}
