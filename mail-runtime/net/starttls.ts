import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';

/**
 * How long a client has to finish the TLS handshake after STARTTLS/STLS
 * when the caller gives no `handshakeTimeoutMs` (Node's own default for
 * `tls.Server`); the session's idle timer is stopped meanwhile. IMAP and
 * POP3 allow STARTTLS only before login, where the connection's login
 * deadline (config `limits.loginTimeoutSeconds`, applied by serveSessions)
 * ends a stalled handshake much sooner.
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
  return tlsHandshake(socket, req.context, req.handshakeTimeoutMs ?? STARTTLS_HANDSHAKE_TIMEOUT_MS);
}

/**
 * The server side of a TLS handshake on an accepted TCP socket: STARTTLS
 * above, and implicit TLS (listener.ts), which accepts plain TCP so that a
 * connection counts against the limits before any handshake work and a
 * handshake that never completes is dropped after `timeoutMs`. Resolves
 * with the TLS socket once the handshake is done; rejects (socket
 * destroyed) when it fails, times out or the peer goes away.
 */
export function tlsHandshake(socket: Socket, context: SecureContext, timeoutMs: number, sni?: (servername: string) => SecureContext | undefined): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    let tlsSocket: TLSSocket;
    try {
      // SNI (RFC 6066 §3): a name `sni` does not know gets the default context.
      const SNICallback = sni ? (name: string, cb: (err: Error | null, ctx?: SecureContext) => void) => cb(null, sni(name) ?? context) : undefined;
      tlsSocket = new TLSSocket(socket, { isServer: true, secureContext: context, ...(SNICallback ? { SNICallback } : {}) });
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
      socket.destroy();
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
    const timer = setTimeout(() => fail(new Error('TLS handshake timed out')), timeoutMs);
    timer.unref();
    tlsSocket.once('error', onError);
    tlsSocket.once('close', onClose);
    tlsSocket.once('secure', onSecure);
  });
}
