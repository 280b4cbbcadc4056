import { fieldValue, fieldsNamed, parseHeader, withoutFields } from './message';

/**
 * How a queued message's id travels with every delivery attempt from a
 * gateway to the node, so the node's store writes it once however often it
 * is attempted (mail-runtime/store/deliveries.ts).
 *
 * Why an id at all: SMTP and LMTP are at-least-once. A reply lost after the
 * final "." (RFC 5321 §4.1.1.4: the receiver has taken responsibility, the
 * sender does not know it) and a gateway killed between the node's 250
 * (RFC 2033 §4.2) and its own "done" record both make the queue deliver the
 * message again — the duplicates RFC 5321 §6.1 accepts, and the ones
 * mailfleet refuses to write.
 *
 * Why a header field, `X-Mailfleet-Delivery-Id: <queue id>`, rather than an
 * LMTP MAIL FROM parameter: the same reasons as the folder hint
 * (./folder-hint.ts) — nodemailer, the gateway's LMTP client, sends no custom
 * MAIL parameters, and an unregistered ESMTP keyword would need an `X`
 * prefix and an LHLO keyword (RFC 5321 §4.1.2, §2.2.2) for a single hop of
 * our own. The gateway adds the field at every attempt (never to the queued
 * copy, never on the outbound path to other domains), so a message taken
 * over by another gateway carries the same id, which is the point.
 *
 * Not forgeable from outside: the gateway's MX and the submission listeners
 * remove every such field from the mail they receive, and the node honours
 * it only on LMTP — the cluster-internal listener only gateways can reach
 * (network policy; LMTP has no authentication, RFC 2033 §6 leaves access
 * to the deployment) — and removes it there before storing the message.
 * A forged id could otherwise make a node drop a later message as a repeat.
 */
export const DELIVERY_ID_FIELD = 'X-Mailfleet-Delivery-Id';

/** The field a gateway puts on top of a message it delivers over LMTP, with CRLF. */
export function deliveryIdLine(id: string): Buffer {
  return Buffer.from(`${DELIVERY_ID_FIELD}: ${id}\r\n`, 'latin1');
}

export interface DeliveryIdFields {
  /** The message without any delivery id field. */
  message: Buffer;
  /** Values of the fields removed, in order (the LMTP listener checks them; the others log them). */
  values: string[];
}

/** Removes every delivery id field and says what they held. */
export function takeDeliveryId(raw: Buffer): DeliveryIdFields {
  const fields = fieldsNamed(parseHeader(raw), DELIVERY_ID_FIELD);
  if (!fields.length) return { message: raw, values: [] };
  return { message: withoutFields(raw, fields), values: fields.map((f) => fieldValue(raw, f)) };
}
