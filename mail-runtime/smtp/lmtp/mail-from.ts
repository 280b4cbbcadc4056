import type { SMTPServerAddress } from 'smtp-server';
import type { PhaseContext } from '../common';
import type { Reply } from '../filters/types';

/**
 * LMTP MAIL FROM (RFC 2033 §4.1): the gateway has already judged the
 * sender (SPF/DMARC and friends run at the MX); any reverse path, the null
 * one included (RFC 5321 §4.5.5 bounces), is taken.
 */
export function mailFrom(_ctx: PhaseContext, _address: SMTPServerAddress): Promise<Reply | undefined> {
  return Promise.resolve(undefined);
}
