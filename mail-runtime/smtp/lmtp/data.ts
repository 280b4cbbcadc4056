import type { DirectoryUser } from '../../auth';
import type { PhaseContext } from '../common';
import { DELIVERY_ID_RE } from '../../store';
import { receivedField, returnPathField, takeDeliveryId, takeFolderHint, withFields } from '../common';
import type { Reply } from '../filters/types';
import { DELIVERY_REPLIES, delivered, deliveryFailure } from './replies';
import { recipientUsers } from './rcpt-to';
import type { LmtpDeps } from './types';

/**
 * LMTP DATA (RFC 2033 §4.2): one reply per accepted recipient, in RCPT
 * order, each 250 only once the message is durable in that recipient's
 * mailbox. Recipients are delivered concurrently, so deliveries to one
 * folder share a group commit (one fsync for the batch).
 *
 * The message gets Return-Path and Received on top (final delivery,
 * RFC 5321 §4.4); the gateway's folder hint is taken out and honoured
 * (../common/folder-hint.ts says why LMTP may trust it), and so is the
 * gateway's delivery id (../common/delivery-id.ts): a repeat of a delivery
 * a folder already accepted is answered 250 without a second copy.
 */
export async function data(deps: LmtpDeps, ctx: PhaseContext, raw: Buffer): Promise<Reply[]> {
  const { session, conn } = ctx;
  const rcpts = session.envelope.rcptTo;
  const hint = takeFolderHint(raw);
  if (hint.ignored.length) conn.log.warn({ values: hint.ignored }, 'unknown folder hint ignored');
  const idFields = takeDeliveryId(hint.message);
  const deliveryId = oneDeliveryId(idFields.values);
  if (idFields.values.length && !deliveryId) conn.log.warn({ values: idFields.values }, 'delivery id field ignored: not exactly one valid id (delivered without a repeat check)');
  const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
  const message = withFields(idFields.message, 0, [
    returnPathField(mailFrom),
    receivedField({
      helo: session.hostNameAppearsAs,
      remoteIp: conn.remoteIp,
      by: deps.hostname,
      with: session.transmissionType,
      id: conn.id,
      ...(rcpts.length === 1 ? { for: rcpts[0]!.address } : {}),
    }),
  ]);
  const folder = hint.folder ?? 'inbox';
  // One copy per mailbox: an alias and its user in one envelope still get one reply each (RFC 2033 §4.2).
  const perMailbox = new Map<string, Promise<Reply | 'delivered'>>();
  const deliverTo = (user: DirectoryUser): Promise<Reply | 'delivered'> => {
    let p = perMailbox.get(user.address);
    if (!p) {
      p = (async (): Promise<Reply | 'delivered'> => {
        try {
          // Ownership can have moved since RCPT; a stale owner must not write (DESIGN.md fencing).
          if (!(await deps.owns(user.address))) return DELIVERY_REPLIES.notOwner;
          const { duplicate } = await deps.delivery.deliver(user, message, { folder, ...(deliveryId ? { deliveryId } : {}) });
          if (duplicate) conn.log.info({ user: user.address, deliveryId, folder }, 'repeated delivery: already in the mailbox, not written again');
          return 'delivered';
        } catch (err) {
          return deliveryFailure(err, conn.log, user.address);
        }
      })();
      perMailbox.set(user.address, p);
    }
    return p;
  };
  const replies = await Promise.all(
    rcpts.map(async (rcpt): Promise<Reply> => {
      const user = recipientUsers.get(rcpt);
      if (!user) return DELIVERY_REPLIES.unknownUser;
      const r = await deliverTo(user);
      return r === 'delivered' ? delivered(rcpt.address) : r;
    }),
  );
  conn.log.info(
    { from: mailFrom, size: message.length, folder, deliveryId, results: rcpts.map((r, i) => `${r.address}=${replies[i]!.code}`) },
    'lmtp delivery',
  );
  return replies;
}

/** The delivery id when the fields hold exactly one well-formed value (the gateway sets one); anything else counts as none. */
function oneDeliveryId(values: readonly string[]): string | undefined {
  const distinct = new Set(values);
  if (distinct.size !== 1) return undefined;
  const [id] = distinct;
  return id !== undefined && DELIVERY_ID_RE.test(id) ? id : undefined;
}
