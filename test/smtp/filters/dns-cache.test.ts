import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { budgetedResolver, serversResolver } from '../../../mail-runtime/smtp/filters/dns-cache';
import { DnsStub } from '../../helpers/dns-stub';

/**
 * The authentication filter's DNS (issue 14): answers cached (negative ones
 * too, RFC 2308 §5), one query for concurrent askers, failures remembered
 * briefly, and a per-message budget that turns a resolver that never
 * answers into ETIMEOUT (mailauth: temperror). Real node:dns against real
 * UDP servers on loopback: the DNS stub, and a socket that never answers.
 */
describe('authentication DNS: cache and lookup budget', () => {
  let stub: DnsStub;
  let silent: UdpSocket;
  let silentPort: number;
  beforeAll(async () => {
    stub = await DnsStub.start();
    stub.add('client.example', { type: 'TXT', data: 'v=spf1 ip4:192.0.2.0/24 -all' });
    stub.add('_dmarc.client.example', { type: 'TXT', data: 'v=DMARC1; p=reject' });
    stub.add('many.example', { type: 'TXT', data: 'x' });
    stub.servfail('broken.example');
    silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    silentPort = silent.address().port;
  });
  afterAll(async () => {
    silent?.close();
    await stub?.close();
  });

  const asked = (name: string): number => stub.queries.filter((q) => q.name === name).length;
  const codeOf = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
      return 'answered';
    } catch (err) {
      return String((err as { code?: string }).code);
    }
  };

  it('asks once for the same question within the TTL, also when asked concurrently, and again after it', async () => {
    let now = 1_000_000;
    const resolve = serversResolver([stub.address], { positiveTtlMs: 60_000, now: () => now });
    const answers = await Promise.all(Array.from({ length: 8 }, () => resolve('client.example', 'TXT')));
    for (const a of answers) expect(a).toEqual([['v=spf1 ip4:192.0.2.0/24 -all']]);
    // A different case is the same name (RFC 4343).
    await resolve('CLIENT.example', 'TXT');
    expect(asked('client.example')).toBe(1);
    // Another type is another question.
    expect(await codeOf(resolve('client.example', 'MX'))).toBe('ENODATA');
    now += 60_001;
    await resolve('client.example', 'TXT');
    expect(asked('client.example')).toBe(3);
  });

  it('caches "no such name" (RFC 2308) for the negative TTL, and a SERVFAIL briefly', async () => {
    let now = 0;
    const resolve = serversResolver([stub.address], { negativeTtlMs: 30_000, errorTtlMs: 2_000, now: () => now });
    expect(await codeOf(resolve('nothing.example', 'TXT'))).toBe('ENOTFOUND');
    expect(await codeOf(resolve('nothing.example', 'TXT'))).toBe('ENOTFOUND');
    expect(asked('nothing.example')).toBe(1);
    const failed = await codeOf(resolve('broken.example', 'TXT'));
    expect(failed).not.toBe('answered');
    expect(await codeOf(resolve('broken.example', 'TXT'))).toBe(failed);
    expect(asked('broken.example')).toBe(1);
    now += 2_001;
    // The failure is forgotten first; "no such name" is still known.
    await codeOf(resolve('broken.example', 'TXT'));
    await codeOf(resolve('nothing.example', 'TXT'));
    expect(asked('broken.example')).toBe(2);
    expect(asked('nothing.example')).toBe(1);
  });

  it('hands every caller its own copy, and keeps at most maxEntries questions', async () => {
    const resolve = serversResolver([stub.address], { maxEntries: 2 });
    const first = (await resolve('many.example', 'TXT')) as string[][];
    first[0]![0] = 'changed by a reader';
    first.push(['added']);
    expect(await resolve('many.example', 'TXT')).toEqual([['x']]);
    expect(asked('many.example')).toBe(1);
    // Two other questions push the first one out (least recently used).
    await codeOf(resolve('a.many.example', 'TXT'));
    await codeOf(resolve('b.many.example', 'TXT'));
    await resolve('many.example', 'TXT');
    expect(asked('many.example')).toBe(2);
  });

  it('a resolver that never answers: the lookup fails ETIMEOUT within the budget, later lookups of the message at once', async () => {
    const resolve = serversResolver([`127.0.0.1:${silentPort}`], { timeoutMs: 2_000 });
    const budgeted = budgetedResolver(resolve, 200);
    const queries: string[] = [];
    silent.on('message', () => queries.push('q'));
    let first: unknown;
    try {
      await budgeted('client.example', 'TXT');
    } catch (err) {
      first = err;
    }
    expect((first as { code?: string }).code).toBe('ETIMEOUT');
    expect(String((first as Error).message)).toMatch(/no DNS answer within 200 ms/);
    // The budget is spent: the next lookup of the same message fails without asking anyone.
    const before = queries.length;
    let second: unknown;
    try {
      await budgeted('_dmarc.client.example', 'TXT');
    } catch (err) {
      second = err;
    }
    expect((second as { code?: string }).code).toBe('ETIMEOUT');
    expect(String((second as Error).message)).toMatch(/budget of 200 ms for this message used up/);
    expect(queries.length).toBe(before);
  });

  it('an aborted chain fails every further lookup at once', async () => {
    const ctl = new AbortController();
    const budgeted = budgetedResolver(serversResolver([stub.address]), 10_000, ctl.signal);
    expect(await budgeted('client.example', 'TXT')).toEqual([['v=spf1 ip4:192.0.2.0/24 -all']]);
    ctl.abort();
    expect(await codeOf(budgeted('client.example', 'TXT'))).toBe('ECANCELLED');
  });
});
