import { Readable } from 'node:stream';
import { createLogger } from '../../../mail-runtime/common/log';
import type { Filter, FilterContext, FilterResult, MessageView, Phase } from '../../../mail-runtime/smtp/filters';

/** A message held in memory, as the listener hands it to the data phase. */
export function messageView(raw: string | Buffer): MessageView {
  const bytes = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.replace(/\r?\n/g, '\r\n'), 'utf8');
  return { size: bytes.length, bytes: () => Promise.resolve(bytes), stream: () => Readable.from([bytes]) };
}

/** A data-phase context from an external sender at a documentation address (RFC 5737). */
export function dataContext(raw: string | Buffer, over: Partial<Omit<FilterContext, 'signal'>> = {}): Omit<FilterContext, 'signal'> {
  return {
    phase: 'data',
    session: { id: 'test-conn', listener: 'mx', remoteIp: '192.0.2.10', remotePort: 40000, helo: 'mail.example.net', secure: false },
    envelope: { mailFrom: 'sender@example.net', rcptTo: ['alice@example.test'] },
    message: messageView(raw),
    log: createLogger({}, process.env.MAILFLEET_TEST_LOG ?? 'silent'),
    ...over,
  };
}

/** A filter whose behaviour is the given function. */
export function fakeFilter(
  name: string,
  run: (ctx: FilterContext) => Promise<FilterResult>,
  opts: { phases?: Phase[]; timeoutMs?: number; onError?: 'tempfail' | 'accept' } = {},
): Filter & { calls: FilterContext[] } {
  const calls: FilterContext[] = [];
  return {
    name,
    phases: opts.phases ?? ['data'],
    timeoutMs: opts.timeoutMs ?? 5000,
    onError: opts.onError ?? 'tempfail',
    calls,
    run: (ctx) => {
      calls.push(ctx);
      return run(ctx);
    },
  };
}
