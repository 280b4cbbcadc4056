import { parseEndpoint, type Endpoint } from './endpoint';
import { deleteAll, foldList, parseHeaderFields } from './headers';
import { reject } from './reply';
import { checkv2 } from './spam/rspamd';
import { spamdSymbols } from './spam/spamd';
import type { Filter, FilterContext, FilterResult, HeaderEdit } from './types';

export interface SpamFilterOptions {
  kind: 'spamd' | 'rspamd';
  /** `host:port`, `[v6]:port` or `unix:/path`. */
  address: string;
  /** At or above: 550 5.7.1 at DATA. */
  rejectScore: number;
  /** At or above (and below rejectScore): delivered to the recipient's Junk folder. */
  junkScore: number;
  timeoutMs: number;
  onError: 'tempfail' | 'accept';
  /** Our host name: the `by` of the Received line spamd sees, rspamd's MTA-Name. */
  hostname: string;
}

/** What either scanner said, reduced to what the verdict needs. */
interface Scan {
  score: number;
  symbols: { name: string; score?: number }[];
  /** rspamd's action name, for the log line. */
  action?: string;
}

/** The score headers we own: any copy already in the message is removed first (a sender could plant `X-Spam-Status: No`). */
const OWN_HEADERS = ['X-Spam-Score', 'X-Spam-Status', 'X-Spam-Flag', 'X-Spamd-Result'] as const;

/**
 * Spam scoring at the data phase, by SpamAssassin's spamd or rspamd. Our
 * thresholds decide, not the scanner's actions: at or above rejectScore 550
 * 5.7.1 (RFC 3463 §3.8 X.7.1, refused by policy); at or above junkScore
 * the message goes to Junk. The score headers say what was measured:
 * `X-Spam-Score`, `X-Spam-Status` in SpamAssassin's form, and for rspamd
 * its `X-Spamd-Result` symbol list.
 */
export function spamFilter(opts: SpamFilterOptions): Filter {
  const endpoint = parseEndpoint(opts.address);
  const name = `data.spam.${opts.kind}`;
  return {
    name,
    phases: ['data'],
    timeoutMs: opts.timeoutMs,
    onError: opts.onError,
    async run(ctx): Promise<FilterResult> {
      if (!ctx.message) return { verdict: { kind: 'continue' } };
      const scan = opts.kind === 'spamd' ? await viaSpamd(endpoint, ctx, opts.hostname) : await viaRspamd(endpoint, ctx, opts.hostname);
      const notes = { score: scan.score, ...(scan.action ? { action: scan.action } : {}) };
      if (scan.score >= opts.rejectScore) {
        ctx.log.info({ score: scan.score, rejectScore: opts.rejectScore }, 'spam refused');
        return { verdict: reject(550, '5.7.1', `message refused as spam (score ${scan.score.toFixed(2)}, limit ${opts.rejectScore.toFixed(2)})`), notes };
      }
      const junk = scan.score >= opts.junkScore;
      const fields = parseHeaderFields(await ctx.message.bytes());
      const headers: HeaderEdit[] = OWN_HEADERS.flatMap((h) => deleteAll(fields, h));
      const names = scan.symbols.map((s) => s.name).sort();
      // Added at the top (index 0, one above the other): the last added ends up first.
      if (opts.kind === 'rspamd') headers.push({ op: 'add', name: 'X-Spamd-Result', value: spamdResult(scan, opts.rejectScore, junk), index: 0 });
      headers.push(
        {
          op: 'add',
          name: 'X-Spam-Status',
          value: foldList(
            `${junk ? 'Yes' : 'No'}, score=${scan.score.toFixed(2)} required=${opts.junkScore.toFixed(2)} tests=`,
            names.length ? names : ['none'],
            ',',
            'X-Spam-Status: '.length,
          ),
          index: 0,
        },
        { op: 'add', name: 'X-Spam-Score', value: scan.score.toFixed(2), index: 0 },
      );
      if (junk) headers.push({ op: 'add', name: 'X-Spam-Flag', value: 'YES', index: 0 });
      return { verdict: { kind: 'continue' }, headers, notes: { ...notes, junk }, ...(junk ? { folder: 'junk' as const } : {}) };
    },
  };
}

async function viaSpamd(endpoint: Endpoint, ctx: FilterContext, hostname: string): Promise<Scan> {
  // spamd sees only the message: a Received line for the hop it arrived on
  // (RFC 5321 §4.4) gives its relay and HELO rules the client, as
  // spamass-milter does.
  const s = ctx.session;
  const received = `Received: from ${s.helo ?? 'unknown'} (${s.clientHostname ?? ''} [${s.remoteIp}])\r\n\tby ${hostname} with ESMTP id ${s.id};\r\n\t${new Date().toUTCString()}\r\n`;
  const answer = await spamdSymbols(endpoint, Buffer.from(received.replace(/[^\x09\x0a\x0d\x20-\x7e]/g, ''), 'latin1'), await ctx.message!.bytes(), ctx.signal);
  return { score: answer.score, symbols: answer.symbols.map((name) => ({ name })) };
}

async function viaRspamd(endpoint: Endpoint, ctx: FilterContext, hostname: string): Promise<Scan> {
  const s = ctx.session;
  const answer = await checkv2(
    endpoint,
    {
      from: ctx.envelope.mailFrom,
      rcpt: ctx.envelope.rcptTo,
      ip: s.remoteIp,
      helo: s.helo,
      hostname: s.clientHostname,
      user: s.authUser,
      queueId: s.id,
      mtaName: hostname,
    },
    ctx.message!.size,
    ctx.message!.stream(),
    ctx.signal,
  );
  return {
    score: answer.score,
    action: answer.action,
    symbols: Object.values(answer.symbols).map((x) => ({ name: symbolName(x.name), score: x.score })),
  };
}

/** A scanner's symbol name goes into our header: printable, no separators of ours. */
function symbolName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 100);
}

/** rspamd's own header format: `default: False [1.20 / 15.00];` then `SYMBOL(score)` per symbol. */
function spamdResult(scan: Scan, rejectScore: number, junk: boolean): string {
  const items = [...scan.symbols]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((x) => `${x.name}(${(x.score ?? 0).toFixed(2)})`);
  const head = `default: ${junk ? 'True' : 'False'} [${scan.score.toFixed(2)} / ${rejectScore.toFixed(2)}]`;
  return items.length ? `${head};\r\n\t${foldList('', items, '; ', 8)}` : head;
}
