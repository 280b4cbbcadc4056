/**
 * Per-state literal caps (RFC 7888 LITERAL+, RFC 3501 §7.5, RFC 4469 TOOBIG).
 *
 * Before authentication only credentials are expected, so the session caps
 * literals of both kinds at PRE_AUTH (8 KiB). A synchronising literal over
 * the cap is refused before the client sends it (`NO [TOOBIG]`, the session
 * goes on). A non-synchronising one is already on its way: over the cap it
 * gets a tagged TOOBIG refusal and BYE, and its bytes are never buffered or
 * even waited for (RFC 7888 §4 lets the server close). After login the caps
 * rise to config `limits.imapLiteralBytes`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CommandReader, type ReaderEvent } from '../../../mail-runtime/imap/protocol';
import { imapConnect, imapLogin, message, TEST_LITERAL_BYTES } from '../../helpers/imap';
import type { LineClient } from '../../helpers/line-client';
import { startTestNode, type TestNode } from '../../helpers/node';
import { ALICE } from '../../helpers/users';

const PRE_AUTH = 8 * 1024;
const PRE = { maxLiteralBytes: PRE_AUTH, maxNonSyncLiteralBytes: PRE_AUTH, reason: 'before authentication' };
const POST = { maxLiteralBytes: TEST_LITERAL_BYTES, maxNonSyncLiteralBytes: TEST_LITERAL_BYTES };

function reader(limits: Parameters<CommandReader['setLiteralLimits']>[0] = PRE): CommandReader {
  const r = new CommandReader({ maxLiteralBytes: TEST_LITERAL_BYTES });
  r.setLiteralLimits(limits);
  return r;
}

function brief(e: ReaderEvent | null): unknown {
  if (!e) return null;
  switch (e.type) {
    case 'command':
      return { cmd: `${e.command.tag} ${e.command.name}`, args: e.command.args.map((a) => (a.type === 'string' ? a.bytes.length : a.type)) };
    case 'continue':
      return { continue: e.size };
    case 'line':
      return { line: e.line.length };
    case 'error':
      return { error: e.error.code, tag: e.error.tag, fatal: e.error.fatal, text: e.error.text };
  }
}

describe('CommandReader.setLiteralLimits', () => {
  it('before login: a {n+} literal over the cap is fatal at once, before any of its bytes arrive', () => {
    const r = reader();
    r.push(Buffer.from('a LOGIN {67108864+}\r\n'));
    expect(brief(r.next())).toEqual({
      error: 'TOOBIG',
      tag: 'a',
      fatal: true,
      text: 'Non-synchronizing literal too big before authentication',
    });
    // Nothing is being assembled and nothing was allocated for the literal.
    expect(r.inCommand).toBe(false);
    expect(r.bufferedBytes).toBe(0);
    // Whatever the client streams after it is dropped, not kept (the session closes anyway).
    for (let i = 0; i < 16; i++) r.push(Buffer.alloc(64 * 1024, 0x78));
    expect(r.next()).toBeNull();
    expect(r.bufferedBytes).toBe(0);
  });

  it('before login: just over the cap is fatal too, at the cap is accepted', () => {
    const over = reader();
    over.push(Buffer.from(`a LOGIN {${PRE_AUTH + 1}+}\r\n`));
    expect(brief(over.next())).toMatchObject({ error: 'TOOBIG', fatal: true });

    const at = reader();
    at.push(Buffer.concat([Buffer.from(`a LOGIN {${PRE_AUTH}+}\r\n`), Buffer.alloc(PRE_AUTH, 0x61), Buffer.from(' pw\r\n')]));
    expect(brief(at.next())).toEqual({ cmd: 'a LOGIN', args: [PRE_AUTH, 'atom'] });
  });

  it('before login: the sum of {n+} literals in one command is capped; the rest of the command is skipped', () => {
    const r = reader();
    const lit = Buffer.alloc(5000, 0x61);
    r.push(Buffer.concat([Buffer.from('a LOGIN {5000+}\r\n'), lit, Buffer.from(' {5000+}\r\n'), lit, Buffer.from('\r\nb NOOP\r\n')]));
    expect(brief(r.next())).toMatchObject({ error: 'TOOBIG', tag: 'a', fatal: false });
    expect(brief(r.next())).toEqual({ cmd: 'b NOOP', args: [] });
  });

  it('before login: a synchronising literal over the cap is refused without a continuation and reading goes on', () => {
    const r = reader();
    r.push(Buffer.from(`a LOGIN {${PRE_AUTH + 1}}\r\nb NOOP\r\n`));
    expect(brief(r.next())).toEqual({ error: 'TOOBIG', tag: 'a', fatal: false, text: 'Literal too big before authentication' });
    expect(brief(r.next())).toEqual({ cmd: 'b NOOP', args: [] });
  });

  it('after login: the same literals are accepted', () => {
    const r = reader(POST);
    const big = 100_000;
    r.push(Buffer.concat([Buffer.from(`a APPEND INBOX {${big}+}\r\n`), Buffer.alloc(big, 0x61), Buffer.from(`\r\nb APPEND INBOX {${big}}\r\n`)]));
    expect(brief(r.next())).toEqual({ cmd: 'a APPEND', args: ['atom', big] });
    expect(brief(r.next())).toEqual({ continue: big });
  });

  it('after login: a {n+} literal above the overall cap is still fatal, with the byte limit in the text', () => {
    const r = reader(POST);
    r.push(Buffer.from(`a APPEND INBOX {${TEST_LITERAL_BYTES + 1}+}\r\n`));
    expect(brief(r.next())).toEqual({
      error: 'TOOBIG',
      tag: 'a',
      fatal: true,
      text: `Non-synchronizing literal too big (max ${TEST_LITERAL_BYTES} octets)`,
    });
  });

  it('new caps apply to the next command even when it was pipelined behind the one that changed state', () => {
    const r = reader();
    const big = 20_000;
    r.push(Buffer.concat([Buffer.from(`a LOGIN u p\r\nb APPEND INBOX {${big}+}\r\n`), Buffer.alloc(big, 0x61), Buffer.from('\r\n')]));
    expect(brief(r.next())).toEqual({ cmd: 'a LOGIN', args: ['atom', 'atom'] });
    // The session runs LOGIN here and raises the caps before pulling again.
    r.setLiteralLimits(POST);
    expect(brief(r.next())).toEqual({ cmd: 'b APPEND', args: ['atom', big] });
  });

  it('reports the caps in force and rejects nonsense sizes', () => {
    const r = reader();
    expect(r.literalLimits).toEqual(PRE);
    r.setLiteralLimits(POST);
    expect(r.literalLimits).toEqual(POST);
    expect(() => r.setLiteralLimits({ maxLiteralBytes: -1, maxNonSyncLiteralBytes: 1 })).toThrow(RangeError);
    expect(() => r.setLiteralLimits({ maxLiteralBytes: 1, maxNonSyncLiteralBytes: 1.5 })).toThrow(RangeError);
    expect(r.literalLimits).toEqual(POST);
  });
});

describe('the session switches the caps at login (real node)', () => {
  let node: TestNode;
  const open: LineClient[] = [];
  beforeAll(async () => {
    node = await startTestNode();
  });
  afterAll(() => node.dispose());
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });
  async function fresh(): Promise<LineClient> {
    const { c } = await imapConnect(node.imapPort);
    open.push(c);
    return c;
  }

  it('unauthenticated {64 MiB+}: TOOBIG and BYE right after the marker line, without waiting for the bytes', async () => {
    const c = await fresh();
    c.send(`a LOGIN {${node.limits.imapLiteralBytes}+}`);
    expect(await c.readUntil((l) => l.startsWith('* BYE'))).toEqual([
      'a BAD [TOOBIG] Non-synchronizing literal too big before authentication',
      '* BYE Connection cannot continue',
    ]);
    // The server hangs up although none of the 64 MiB was sent.
    await c.waitClosed();
  });

  it(`unauthenticated {${PRE_AUTH + 1}+}: the same`, async () => {
    const c = await fresh();
    c.write(`a LOGIN {${PRE_AUTH + 1}+}\r\n${'x'.repeat(PRE_AUTH + 1)} pw\r\n`);
    expect(await c.readUntil((l) => l.startsWith('* BYE'))).toEqual([expect.stringMatching(/^a BAD \[TOOBIG\] /), '* BYE Connection cannot continue']);
    await c.waitClosed();
  });

  it('unauthenticated synchronising literal over the cap: NO [TOOBIG], no continuation, the session goes on', async () => {
    const c = await fresh();
    c.send(`a LOGIN {${PRE_AUTH + 1}}`);
    expect(await c.readLine()).toBe('a NO [TOOBIG] Literal too big before authentication');
    expect(await c.command('b', 'NOOP')).toEqual(['b OK NOOP completed']);
  });

  it('LOGIN with small {n+} literals works before authentication', async () => {
    const c = await fresh();
    const user = Buffer.from(ALICE.address);
    const pw = Buffer.from(ALICE.password);
    c.write(`a LOGIN {${user.length}+}\r\n${ALICE.address} {${pw.length}+}\r\n${ALICE.password}\r\n`);
    expect(await c.readUntil((l) => l.startsWith('a '))).toEqual([expect.stringMatching(/^a OK /)]);
  });

  it('after login a {n+} APPEND far above the pre-auth cap is accepted, also pipelined right behind LOGIN', async () => {
    const c = await fresh();
    const msg = message('big literal plus', `${'y'.repeat(76)}\r\n`.repeat(400));
    expect(Buffer.byteLength(msg)).toBeGreaterThan(PRE_AUTH * 3);
    c.write(`a LOGIN "${ALICE.address}" "${ALICE.password}"\r\nb APPEND INBOX {${Buffer.byteLength(msg)}+}\r\n${msg}\r\n`);
    const lines = await c.readUntil((l) => l.startsWith('b '));
    expect(lines.filter((l) => /^[ab] /.test(l))).toEqual([expect.stringMatching(/^a OK /), expect.stringMatching(/^b OK \[APPENDUID \d+ \d+\] /)]);
  });

  it('a failed LOGIN keeps the small cap for the pipelined {n+} literal behind it', async () => {
    const c = await fresh();
    c.write(`a LOGIN "${ALICE.address}" "wrong"\r\nb APPEND INBOX {20000+}\r\n`);
    const lines = await c.readUntil((l) => l.startsWith('* BYE'), 10_000);
    expect(lines.filter((l) => /^(a |b |\* BYE)/.test(l))).toEqual([
      expect.stringMatching(/^a NO /),
      'b BAD [TOOBIG] Non-synchronizing literal too big before authentication',
      '* BYE Connection cannot continue',
    ]);
  });

  it('after login a synchronising literal above the pre-auth cap gets its continuation', async () => {
    const c = await imapLogin(node.imapPort, ALICE.address, ALICE.password);
    open.push(c);
    c.send(`a APPEND INBOX {${PRE_AUTH * 4}}`);
    expect(await c.readLine()).toBe('+ Ready for literal data');
  });
});
