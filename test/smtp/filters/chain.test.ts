import { describe, expect, it } from 'vitest';
import { runFilters, type FilterResult } from '../../../mail-runtime/smtp/filters';
import { dataContext, fakeFilter } from './fakes';

/**
 * The chain runner with fake filters: order, the verdicts that stop it,
 * header edits and the junk hint, and above all that a filter which never
 * answers (or throws, or answers nonsense) cannot hang the transaction.
 */
const ok = (extra: Partial<FilterResult> = {}): Promise<FilterResult> => Promise.resolve({ verdict: { kind: 'continue' }, ...extra });
const never = (): Promise<FilterResult> => new Promise<FilterResult>(() => undefined);
const ctx = () => dataContext('From: a@example.net\r\n\r\nhello\r\n');

describe('order and phases', () => {
  it('runs the filters of the phase, in order, and skips the others', async () => {
    const seen: string[] = [];
    const f = (name: string, phases: ('data' | 'rcpt-to')[]) =>
      fakeFilter(name, () => (seen.push(name), ok()), { phases });
    const r = await runFilters([f('a', ['data']), f('b', ['rcpt-to']), f('c', ['rcpt-to', 'data'])], ctx());
    expect(seen).toEqual(['a', 'c']);
    expect(r.verdict).toEqual({ kind: 'continue' });
  });

  it.each([
    ['reject', { kind: 'reject', reply: { code: 550, enhanced: '5.7.1', text: 'no' } }],
    ['tempfail', { kind: 'tempfail', reply: { code: 451, enhanced: '4.7.1', text: 'later' } }],
    ['discard', { kind: 'discard', reason: 'milter said so' }],
    ['accept', { kind: 'accept' }],
  ] as const)('stops at the first %s', async (_, verdict) => {
    const later = fakeFilter('later', () => ok());
    const r = await runFilters([fakeFilter('first', () => ok()), fakeFilter('decider', () => Promise.resolve({ verdict })), later], ctx());
    expect(r.verdict).toEqual(verdict);
    expect(later.calls).toHaveLength(0);
  });
});

describe('what the filters leave', () => {
  it('collects header edits in filter order, the junk hint, and notes under the filter name', async () => {
    const r = await runFilters(
      [
        fakeFilter('data.auth', () => ok({ headers: [{ op: 'add', name: 'Authentication-Results', value: 'mx.example.test; spf=pass', index: 0 }] })),
        fakeFilter('data.spam', () =>
          ok({ headers: [{ op: 'add', name: 'X-Spam-Score', value: '6.0' }], folder: 'junk', notes: { score: 6 } }),
        ),
        fakeFilter('data.milter', () => ok({ headers: [{ op: 'change', name: 'Subject', occurrence: 1, value: null }] })),
      ],
      ctx(),
    );
    expect(r.verdict.kind).toBe('continue');
    expect(r.headers.map((h) => h.name)).toEqual(['Authentication-Results', 'X-Spam-Score', 'Subject']);
    expect(r.folder).toBe('junk');
    expect(r.notes).toEqual({ 'data.spam.score': 6 });
  });

  it('no junk hint when nobody asked', async () => {
    const r = await runFilters([fakeFilter('a', () => ok())], ctx());
    expect(r.folder).toBeUndefined();
  });
});

describe('a filter that is late, throws or answers nonsense', () => {
  it('never resolves, onError tempfail: 451 4.7.1 naming the filter, and its signal is aborted', async () => {
    const stuck = fakeFilter('data.stuck', never, { timeoutMs: 50 });
    const after = fakeFilter('after', () => ok());
    const r = await runFilters([stuck, after], ctx());
    expect(r.verdict).toEqual({ kind: 'tempfail', reply: { code: 451, enhanced: '4.7.1', text: expect.stringContaining('data.stuck') } });
    expect(after.calls).toHaveLength(0);
    expect(stuck.calls[0]!.signal.aborted).toBe(true);
    expect(r.notes['data.stuck.error']).toBe('timeout');
  });

  it('never resolves, onError accept: the chain goes on and notes it', async () => {
    const after = fakeFilter('after', () => ok({ headers: [{ op: 'add', name: 'X-After', value: '1' }] }));
    const r = await runFilters([fakeFilter('data.stuck', never, { timeoutMs: 50, onError: 'accept' }), after], ctx());
    expect(r.verdict).toEqual({ kind: 'continue' });
    expect(after.calls).toHaveLength(1);
    expect(r.notes).toMatchObject({ 'data.stuck.error': 'timeout', 'data.stuck.skipped': true });
    expect(r.headers).toHaveLength(1);
  });

  it('throws: onError decides', async () => {
    const boom = () => Promise.reject(new Error('socket hang up'));
    const closed = await runFilters([fakeFilter('data.boom', boom)], ctx());
    expect(closed.verdict).toMatchObject({ kind: 'tempfail', reply: { code: 451, text: expect.stringContaining('data.boom failed') } });
    const open = await runFilters([fakeFilter('data.boom', boom, { onError: 'accept' })], ctx());
    expect(open.verdict).toEqual({ kind: 'continue' });
    expect(open.notes['data.boom.error']).toBe('error');
  });

  it.each([
    ['a reject with a 4xx reply', { verdict: { kind: 'reject', reply: { code: 450, enhanced: '4.7.1', text: 'x' } } }],
    ['a tempfail with a 5xx reply', { verdict: { kind: 'tempfail', reply: { code: 550, enhanced: '5.7.1', text: 'x' } } }],
    ['an unknown verdict', { verdict: { kind: 'maybe' } }],
    ['a header value that ends the line', { verdict: { kind: 'continue' }, headers: [{ op: 'add', name: 'X-A', value: 'v\r\nBcc: x@y' }] }],
    ['a header name with a colon', { verdict: { kind: 'continue' }, headers: [{ op: 'add', name: 'X:A', value: 'v' }] }],
  ])('answers nonsense (%s): treated as a failure', async (_, result) => {
    const r = await runFilters([fakeFilter('data.odd', () => Promise.resolve(result as unknown as FilterResult))], ctx());
    expect(r.verdict).toMatchObject({ kind: 'tempfail', reply: { code: 451 } });
    expect(r.notes['data.odd.error']).toBe('invalid result');
  });

  it('a folded header value is fine', async () => {
    const r = await runFilters([fakeFilter('a', () => ok({ headers: [{ op: 'add', name: 'X-A', value: 'one;\r\n two' }] }))], ctx());
    expect(r.verdict).toEqual({ kind: 'continue' });
  });

  it('the client goes away: the running filter is aborted and the chain answers at once', async () => {
    const client = new AbortController();
    const stuck = fakeFilter('data.stuck', (c) => {
      queueMicrotask(() => client.abort());
      return never().then(() => c as never);
    });
    const r = await runFilters([stuck], ctx(), { signal: client.signal });
    expect(r.verdict.kind).toBe('tempfail');
    expect(stuck.calls[0]!.signal.aborted).toBe(true);
  });
});
