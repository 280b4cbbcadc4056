import { z } from 'zod';
import { tempfail } from './reply';
import type { Filter, FilterContext, FilterResult, HeaderEdit, Verdict } from './types';

/**
 * The chain runner: the listener calls it once per phase with the filters
 * the gateway was configured with (buildFilters), and answers the client
 * from the verdict. The runner owns every timeout: each filter gets its own
 * AbortSignal and deadline, and the runner answers for a filter that is late
 * or throws (CONVENTIONS.md: a filter that times out or throws answers
 * temp-fail, never hangs) — it does not wait for that filter to notice.
 */

export interface ChainResult {
  /** `continue` when no filter objected: the listener goes on (and, at data, queues the message). */
  verdict: Verdict;
  /** Every header edit asked for by the filters that ran, in filter order; apply only when the message is accepted. */
  headers: HeaderEdit[];
  /** 'junk' when any filter that ran asked for it. */
  folder?: 'junk';
  /** Notes of every filter, each key prefixed with the filter's name (`data.spam.rspamd.score`). */
  notes: Record<string, string | number | boolean>;
}

export interface RunOptions {
  /** Aborted when the client goes away: the running filter is aborted and the chain stops with a temp-fail. */
  signal?: AbortSignal;
}

/** RFC 3463 §3.8 X.7.1: "delivery not authorized"; 451 is the temp-fail for a local problem (RFC 5321 §4.2.3). */
const TEMPFAIL_CODE = 451;
const TEMPFAIL_STATUS = '4.7.1';

// What a filter returns is checked before the chain trusts it: a reject must
// carry a 5xx reply and a temp-fail a 4xx one (RFC 5321 §4.2.1), or the client
// would be told to retry a refusal, or to give up on a temporary problem.
const replyOf = (first: '4' | '5') =>
  z.strictObject({
    code: z.number().int().min(Number(`${first}00`)).max(Number(`${first}99`)),
    enhanced: z.string().regex(new RegExp(`^${first}\\.\\d{1,3}\\.\\d{1,3}$`)),
    text: z.string().min(1),
  });
const headerName = z.string().regex(/^[\x21-\x39\x3b-\x7e]+$/, 'a header field name is printable ASCII without ":" (RFC 5322 §2.2)');
// A value may be folded (CRLF followed by a space or tab, RFC 5322 §2.2.3), never end a line otherwise.
const headerValue = z.string().refine((v) => !/\r(?!\n[ \t])|(?<!\r)\n|\r\n(?![ \t])/.test(v), 'a header value has no bare CR/LF');
const FilterResultSchema = z.strictObject({
  verdict: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('continue') }),
    z.strictObject({ kind: z.literal('accept') }),
    z.strictObject({ kind: z.literal('reject'), reply: replyOf('5') }),
    z.strictObject({ kind: z.literal('tempfail'), reply: replyOf('4') }),
    z.strictObject({ kind: z.literal('discard'), reason: z.string() }),
  ]),
  headers: z
    .array(
      z.discriminatedUnion('op', [
        z.strictObject({ op: z.literal('add'), name: headerName, value: headerValue, index: z.number().int().min(0).optional() }),
        z.strictObject({ op: z.literal('change'), name: headerName, occurrence: z.number().int().min(1), value: headerValue.nullable() }),
      ]),
    )
    .optional(),
  folder: z.literal('junk').optional(),
  notes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
});

type Outcome = { kind: 'result'; result: FilterResult } | { kind: 'timeout' } | { kind: 'error'; error: unknown } | { kind: 'gone' };

/** Runs one filter against its deadline; never rejects, never waits past the deadline. */
async function runOne(filter: Filter, ctx: Omit<FilterContext, 'signal'>, outer: AbortSignal | undefined): Promise<Outcome> {
  const own = new AbortController();
  const signal = outer ? AbortSignal.any([own.signal, outer]) : own.signal;
  let timer: NodeJS.Timeout | undefined;
  let onOuterAbort: (() => void) | undefined;
  const deadline = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => {
      own.abort(new Error(`${filter.name}: no answer within ${filter.timeoutMs} ms`));
      resolve({ kind: 'timeout' });
    }, filter.timeoutMs);
    if (outer) {
      onOuterAbort = () => resolve({ kind: 'gone' });
      outer.addEventListener('abort', onOuterAbort, { once: true });
    }
  });
  const work = (async (): Promise<Outcome> => {
    try {
      return { kind: 'result', result: await filter.run({ ...ctx, signal, log: ctx.log.child({ filter: filter.name }) }) };
    } catch (error) {
      return { kind: 'error', error };
    }
  })();
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    if (outer && onOuterAbort) outer.removeEventListener('abort', onOuterAbort);
    // Whatever the filter still has open (a socket, a DNS query) is told to stop.
    if (!own.signal.aborted) own.abort(new Error(`${filter.name}: the chain has its answer`));
  }
}

/** Runs the filters of ctx.phase in order and combines their results. */
export async function runFilters(filters: readonly Filter[], ctx: Omit<FilterContext, 'signal'>, opts: RunOptions = {}): Promise<ChainResult> {
  const headers: HeaderEdit[] = [];
  const notes: Record<string, string | number | boolean> = {};
  let folder: 'junk' | undefined;
  const done = (verdict: Verdict): ChainResult => ({ verdict, headers, notes, ...(folder ? { folder } : {}) });

  // A copy: the gateway replaces its chain's entries in place when cluster settings change (gateway/start.ts).
  for (const filter of [...filters]) {
    if (!filter.phases.includes(ctx.phase)) continue;
    if (opts.signal?.aborted) return done(tempfail(TEMPFAIL_CODE, TEMPFAIL_STATUS, 'the client went away while the message was checked'));
    const outcome = await runOne(filter, ctx, opts.signal);

    let failure: string | undefined;
    let result: FilterResult | undefined;
    if (outcome.kind === 'gone') return done(tempfail(TEMPFAIL_CODE, TEMPFAIL_STATUS, 'the client went away while the message was checked'));
    if (outcome.kind === 'timeout') failure = 'timeout';
    else if (outcome.kind === 'error') {
      failure = 'error';
      ctx.log.warn({ filter: filter.name, err: outcome.error }, 'filter failed');
    } else {
      const parsed = FilterResultSchema.safeParse(outcome.result);
      if (parsed.success) result = outcome.result;
      else {
        failure = 'invalid result';
        ctx.log.warn({ filter: filter.name, problem: parsed.error.issues[0]?.message }, 'filter returned an invalid result');
      }
    }

    if (failure !== undefined || result === undefined) {
      const what = failure === 'timeout' ? 'did not answer in time' : 'failed';
      ctx.log.warn({ filter: filter.name, failure, onError: filter.onError }, `filter ${what}`);
      notes[`${filter.name}.error`] = failure ?? 'error';
      // onError 'tempfail': the mail stays with the sender, who retries (RFC 5321 §4.2.1 4yz).
      if (filter.onError === 'tempfail') return done(tempfail(TEMPFAIL_CODE, TEMPFAIL_STATUS, `content filter ${filter.name} ${what}; try again later`));
      notes[`${filter.name}.skipped`] = true;
      continue;
    }

    for (const [k, v] of Object.entries(result.notes ?? {})) notes[`${filter.name}.${k}`] = v;
    if (result.headers) headers.push(...result.headers);
    if (result.folder === 'junk') folder = 'junk';
    if (result.verdict.kind !== 'continue') {
      ctx.log.info({ filter: filter.name, verdict: result.verdict.kind }, 'filter decided');
      return done(result.verdict);
    }
  }
  return done({ kind: 'continue' });
}
