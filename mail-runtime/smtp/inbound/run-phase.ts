import type { Filter, FilterContext, FilterResult, HeaderEdit, Verdict } from '../filters/types';

/**
 * STAND-IN for the filter chain runner `runFilters` of
 * mail-runtime/smtp/filters/chain.ts (the smtp-filters engineer's). Same
 * name and call shape, minimal behaviour, so the listener's phases call one
 * function whichever lands; when chain.ts is merged the lead points the
 * import in phases.ts there and deletes this file.
 *
 * Runs the filters of one phase in order, each under its own timeout: the
 * first reject/tempfail/discard ends the phase, `accept` skips the rest; a
 * filter that throws or overruns answers for itself per its `onError`
 * (temp-fail, or go on unfiltered) — never a hang (CONVENTIONS.md).
 */
export interface PhaseOutcome {
  verdict: Verdict;
  /** Edits of every filter that ran, in order; applied only when the message is accepted. */
  headers: HeaderEdit[];
  folder?: 'junk';
  /** Per filter name, for the transaction's log line. */
  notes: Record<string, FilterResult['notes']>;
}

/** RFC 3463 4.7.1: a filter could not judge the message; the sender retries. */
const FILTER_UNAVAILABLE = { code: 451, enhanced: '4.7.1', text: 'message filter temporarily unavailable, try again later' };

class FilterTimeout extends Error {}

async function runOne(filter: Filter, ctx: Omit<FilterContext, 'signal'>, parent?: AbortSignal): Promise<FilterResult> {
  const controller = new AbortController();
  const onParentAbort = (): void => controller.abort(parent?.reason);
  parent?.addEventListener('abort', onParentAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort(new FilterTimeout(`${filter.name} took longer than ${filter.timeoutMs} ms`));
        reject(new FilterTimeout(`${filter.name} took longer than ${filter.timeoutMs} ms`));
      }, filter.timeoutMs);
    });
    return await Promise.race([filter.run({ ...ctx, signal: controller.signal }), timeout]);
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener('abort', onParentAbort);
  }
}

export async function runFilters(filters: readonly Filter[], ctx: Omit<FilterContext, 'signal'>, opts: { signal?: AbortSignal } = {}): Promise<PhaseOutcome> {
  const out: PhaseOutcome = { verdict: { kind: 'continue' }, headers: [], notes: {} };
  for (const filter of filters) {
    if (!filter.phases.includes(ctx.phase)) continue;
    let result: FilterResult;
    try {
      result = await runOne(filter, ctx, opts.signal);
    } catch (err) {
      ctx.log.warn({ err, filter: filter.name, phase: ctx.phase, onError: filter.onError }, 'filter failed');
      out.notes[filter.name] = { error: err instanceof FilterTimeout ? 'timeout' : 'error' };
      if (filter.onError === 'accept') continue;
      out.verdict = { kind: 'tempfail', reply: FILTER_UNAVAILABLE };
      return out;
    }
    if (result.notes) out.notes[filter.name] = result.notes;
    if (result.headers) out.headers.push(...result.headers);
    if (result.folder) out.folder = result.folder;
    if (result.verdict.kind !== 'continue') {
      out.verdict = result.verdict;
      return out;
    }
  }
  return out;
}
