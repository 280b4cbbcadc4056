import type { Authenticator, Directory } from '../../auth';
import type { PlaintextAuthPolicy } from '../../net';
import type { LocalDelivery, OwnsMailbox } from '../lmtp';
import type { QueueWriter } from '../queue/types';
import type { Router } from '../routing/types';
import type { PeerDelivery } from './peer';

/** What the submission phases need; node/start.ts wires them. */
export interface SubmissionDeps {
  /** The one login path (limiter, logs) shared with IMAP and POP3. */
  auth: Authenticator;
  /** Sender checks: an address belongs to a user when the directory resolves it (address or alias) to that user. */
  directory: Directory;
  /** Where each recipient goes: a hosted mailbox on some node, unknown, or outside (mail-runtime/smtp/routing). */
  router: Router;
  /** Which hosted mailboxes this node serves (placement's seam, issue 12). */
  owns: OwnsMailbox;
  /** Final delivery into this node's store. */
  delivery: LocalDelivery;
  /** LMTP to the node that owns a hosted mailbox elsewhere. */
  peers: PeerDelivery;
  /**
   * The outbound queue (the gateway's QueueWriter on shared storage): mail
   * for outside, and hosted recipients that could not be delivered now.
   * Absent: outside recipients are refused at RCPT with 451 4.3.5.
   */
  queue?: QueueWriter;
  /** This node's member id: a route to it is a local delivery. */
  memberId: string;
  hostname: string;
  /** Where AUTH may be used without TLS (config `plaintextAuth`). */
  plaintextAuth: PlaintextAuthPolicy;
}
