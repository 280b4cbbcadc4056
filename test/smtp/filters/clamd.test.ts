import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clamdFilter, runFilters } from '../../../mail-runtime/smtp/filters';
import { EICAR, EICAR_SIGNATURE, startClamd, type TestClamd } from '../../helpers/clamd';
import { findProgram, freePort } from '../../helpers/daemon';
import { dataContext } from './fakes';

/**
 * Antivirus against a real clamd (Debian clamav-daemon) on loopback, with
 * a signature database the test writes itself: EICAR is refused naming
 * the signature, a clean message passes, over TCP and over the unix socket.
 * Fault cases (no clamd, a clamd that never answers) use a closed port and
 * a silent fake peer.
 */
let clamd: TestClamd;
beforeAll(async () => {
  clamd = await startClamd({ streamMaxBytes: 256 * 1024 });
});
afterAll(() => clamd?.dispose());

const infected = [
  'From: sender@example.net',
  'To: alice@example.test',
  'Subject: invoice',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: text/plain',
  '',
  'Please see the attachment.',
  '--b1',
  'Content-Type: application/octet-stream; name="invoice.com"',
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment; filename="invoice.com"',
  '',
  Buffer.from(EICAR, 'latin1').toString('base64'),
  '--b1--',
  '',
].join('\r\n');
const clean = 'From: sender@example.net\r\nTo: alice@example.test\r\nSubject: lunch\r\n\r\nShall we meet at noon?\r\n';

const filter = (address: string, over: Partial<Parameters<typeof clamdFilter>[0]> = {}) =>
  clamdFilter({ address, streamMaxBytes: clamd.streamMaxBytes, timeoutMs: 30_000, onError: 'tempfail', ...over });

describe.each(['tcp', 'unix'] as const)('clamd over %s', (via) => {
  it('EICAR in an attachment: 554 5.7.1 naming the signature', async () => {
    const r = await runFilters([filter(clamd[via])], dataContext(infected));
    expect(r.verdict).toEqual({
      kind: 'reject',
      reply: { code: 554, enhanced: '5.7.1', text: expect.stringContaining(EICAR_SIGNATURE) },
    });
    expect(r.notes['data.antivirus.clamd.virus']).toContain(EICAR_SIGNATURE);
  });

  it('a clean message passes', async () => {
    const r = await runFilters([filter(clamd[via])], dataContext(clean));
    expect(r.verdict).toEqual({ kind: 'continue' });
    expect(r.notes['data.antivirus.clamd.scanned']).toBe(true);
  });
});

describe("clamd's StreamMaxLength", () => {
  it('a message above it is passed unscanned, not sent', async () => {
    const big = `${infected}${'x'.repeat(clamd.streamMaxBytes)}\r\n`;
    const r = await runFilters([filter(clamd.tcp)], dataContext(big));
    expect(r.verdict).toEqual({ kind: 'continue' });
    expect(r.notes['data.antivirus.clamd.scanned']).toBe(false);
  });

  it('configured above what clamd allows: clamd refuses the stream and the chain temp-fails', async () => {
    const big = `${clean}${'x'.repeat(clamd.streamMaxBytes + 1024)}\r\n`;
    const r = await runFilters([filter(clamd.tcp, { streamMaxBytes: 4 * clamd.streamMaxBytes })], dataContext(big));
    expect(r.verdict).toMatchObject({ kind: 'tempfail', reply: { code: 451, enhanced: '4.7.1' } });
    expect(r.notes['data.antivirus.clamd.error']).toBe('error');
  });

  it('a message of exactly many chunks is scanned whole (EICAR after 200 KiB of text is still found)', async () => {
    const padded = infected.replace('Please see the attachment.', `Please see the attachment.\r\n${'y'.repeat(76)}\r\n`.repeat(2400));
    expect(padded.length).toBeLessThan(clamd.streamMaxBytes);
    const r = await runFilters([filter(clamd.unix)], dataContext(padded));
    expect(r.verdict.kind).toBe('reject');
  });
});

describe('clamd unreachable or silent', () => {
  let silent: Server;
  let silentPort: number;
  const held: Socket[] = [];
  beforeAll(async () => {
    silent = createServer((s) => {
      held.push(s);
      s.resume(); // read and drop what arrives, so the close is seen
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('nothing listens: 451 4.7.1, or unscanned with onError accept', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const tf = await runFilters([filter(closed)], dataContext(clean));
    expect(tf.verdict).toEqual({ kind: 'tempfail', reply: { code: 451, enhanced: '4.7.1', text: expect.stringContaining('data.antivirus.clamd') } });
    const open = await runFilters([filter(closed, { onError: 'accept' })], dataContext(clean));
    expect(open.verdict).toEqual({ kind: 'continue' });
    expect(open.notes['data.antivirus.clamd.skipped']).toBe(true);
  });

  it('accepts and never answers: the timeout answers 451 4.7.1 and the connection is closed', async () => {
    const r = await runFilters([filter(`127.0.0.1:${silentPort}`, { timeoutMs: 300 })], dataContext(clean));
    expect(r.verdict).toMatchObject({ kind: 'tempfail', reply: { code: 451, enhanced: '4.7.1' } });
    expect(r.notes['data.antivirus.clamd.error']).toBe('timeout');
    expect(held.length).toBeGreaterThan(0);
    await new Promise<void>((resolve) => (held.at(-1)!.destroyed ? resolve() : held.at(-1)!.once('close', () => resolve())));
  });

  it('unix socket that does not exist: 451', async () => {
    const r = await runFilters([filter('unix:/nonexistent/clamd.sock')], dataContext(clean));
    expect(r.verdict).toMatchObject({ kind: 'tempfail', reply: { code: 451 } });
  });
});

describe('a machine without clamd', () => {
  it('fails the suite naming the package to install (the real-clamd tests are never skipped)', () => {
    expect(() => findProgram(['/nonexistent/sbin/clamd', 'mailfleet-no-such-clamd'], 'clamav-daemon')).toThrow(
      /install the Debian package clamav-daemon \(listed in test\/setup\/debian-packages\.ts/,
    );
  });
});
