import { describeEndpoint, parseEndpoint } from './endpoint';
import { converse } from './milter/session';
import type { Filter, FilterResult } from './types';

export interface MilterFilterOptions {
  /** Names the milter in logs, replies and config (`data.milter.<name>`). */
  name: string;
  /** `host:port`, `[v6]:port` or `unix:/path`. */
  address: string;
  /** Our host name (macro `j`). */
  hostname: string;
  timeoutMs: number;
  /** What a milter that is down, late or talks nonsense means: temp-fail (fail-closed) or accept (fail-open). */
  onError: 'tempfail' | 'accept';
}

/**
 * A milter (Sendmail milter protocol v6) as a filter at the data phase:
 * rspamd's proxy in milter mode, clamav-milter, OpenDKIM or any other
 * appliance. Its replies map to verdicts (SMFIR_REJECT and a 5xx
 * SMFIR_REPLYCODE reject, SMFIR_TEMPFAIL and a 4xx one temp-fail,
 * SMFIR_DISCARD discards, SMFIR_ACCEPT and SMFIR_CONTINUE let the message
 * on); its header actions (SMFIR_ADDHEADER, INSHEADER, CHGHEADER) become
 * header edits and SMFIR_QUARANTINE sends the message to Junk. Recipient,
 * sender and body changes are not offered (milter/protocol.ts says why).
 */
export function milterFilter(opts: MilterFilterOptions): Filter {
  const endpoint = parseEndpoint(opts.address);
  const name = `data.milter.${opts.name}`;
  return {
    name,
    phases: ['data'],
    timeoutMs: opts.timeoutMs,
    onError: opts.onError,
    async run(ctx): Promise<FilterResult> {
      if (!ctx.message) return { verdict: { kind: 'continue' } };
      const out = await converse(
        endpoint,
        `milter ${opts.name}`,
        { hostname: opts.hostname, session: ctx.session, envelope: ctx.envelope, message: await ctx.message.bytes() },
        ctx.signal,
      );
      ctx.log.debug({ milter: describeEndpoint(endpoint), step: out.step, verdict: out.verdict.kind, edits: out.headers.length }, 'milter answered');
      return {
        verdict: out.verdict,
        headers: out.headers,
        notes: { step: out.step, ...(out.quarantine !== undefined ? { quarantine: out.quarantine } : {}) },
        ...(out.quarantine !== undefined ? { folder: 'junk' as const } : {}),
      };
    },
  };
}
