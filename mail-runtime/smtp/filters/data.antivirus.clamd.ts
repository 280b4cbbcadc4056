import { clamdInstream } from './clamd/instream';
import { describeEndpoint, parseEndpoint } from './endpoint';
import { reject } from './reply';
import type { Filter, FilterResult } from './types';

export interface ClamdFilterOptions {
  /** `host:port`, `[v6]:port` or `unix:/path` of clamd. */
  address: string;
  /**
   * clamd's StreamMaxLength. A larger message is passed unscanned with a note
   * (as clamav-milter does with its MaxFileSize): sending it would only make
   * clamd cut the connection, and a temp-fail would bounce it after days.
   */
  streamMaxBytes: number;
  timeoutMs: number;
  onError: 'tempfail' | 'accept';
}

/**
 * Antivirus at the data phase: the message as received goes to clamd over
 * INSTREAM (clamd unpacks MIME parts and archives itself). Infected: 554
 * 5.7.1 naming the signature (RFC 5321 §4.2.3 554 "transaction failed";
 * RFC 3463 §3.8 X.7.1 "delivery not authorized, message refused"). clamd
 * unreachable or failing is an error, which the chain turns into 451 4.7.1
 * or, with onError accept, into unscanned delivery.
 */
export function clamdFilter(opts: ClamdFilterOptions): Filter {
  const endpoint = parseEndpoint(opts.address);
  return {
    name: 'data.antivirus.clamd',
    phases: ['data'],
    timeoutMs: opts.timeoutMs,
    onError: opts.onError,
    async run(ctx): Promise<FilterResult> {
      const message = ctx.message;
      if (!message) return { verdict: { kind: 'continue' } };
      if (message.size > opts.streamMaxBytes) {
        ctx.log.warn({ size: message.size, streamMaxBytes: opts.streamMaxBytes }, 'message above clamd StreamMaxLength: not scanned');
        return { verdict: { kind: 'continue' }, notes: { scanned: false, reason: 'larger than StreamMaxLength' } };
      }
      const answer = await clamdInstream(endpoint, message.stream(), opts.streamMaxBytes, ctx.signal);
      if (answer.status === 'infected') {
        ctx.log.info({ signature: answer.signature, clamd: describeEndpoint(endpoint) }, 'virus found');
        return { verdict: reject(554, '5.7.1', `message refused: virus found (${answer.signature})`), notes: { scanned: true, virus: answer.signature } };
      }
      return { verdict: { kind: 'continue' }, notes: { scanned: true } };
    },
  };
}
