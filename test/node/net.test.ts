import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineSplitter, isLoopback, listen, loadTls, normalizeIp, plaintextAuthAllowed, startHealthServer } from '../../mail-runtime/net';
import { LineClient } from '../helpers/line-client';

describe('net helpers', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['1270.0.0.1', false],
    ['', false],
  ])('isLoopback(%j) = %s', (ip, want) => {
    expect(isLoopback(ip)).toBe(want);
  });

  it('plaintext policy: TLS always allows, loopback only from loopback, never never', () => {
    expect(plaintextAuthAllowed('never', true, '10.0.0.1')).toBe(true);
    expect(plaintextAuthAllowed('never', false, '127.0.0.1')).toBe(false);
    expect(plaintextAuthAllowed('loopback', false, '127.0.0.1')).toBe(true);
    expect(plaintextAuthAllowed('loopback', false, '192.168.1.2')).toBe(false);
    expect(plaintextAuthAllowed('always', false, '192.168.1.2')).toBe(true);
    expect(normalizeIp('::ffff:192.168.1.2')).toBe('192.168.1.2');
  });

  it('LineSplitter: CRLF and LF, split chunks, overflow skips the rest of the line', () => {
    const lines: string[] = [];
    let overflows = 0;
    const s = new LineSplitter(10, (l) => lines.push(l), () => overflows++);
    s.push(Buffer.from('ab'));
    s.push(Buffer.from('c\r\ndef\nxxxxxxxx'));
    s.push(Buffer.from('xxxxx more\r\nok\r\n'));
    expect(lines).toEqual(['abc', 'def', 'ok']);
    expect(overflows).toBe(1);
  });
});

describe('TLS material', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mf-tls-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('generates a self-signed certificate and serves implicit TLS with it; loads the same from files', async () => {
    const gen = await loadTls(undefined, 'mx.test');
    expect(gen.selfSigned).toBe(true);
    expect(gen.cert).toMatch(/^-----BEGIN CERTIFICATE-----/);
    await writeFile(join(dir, 'c.pem'), gen.cert);
    await writeFile(join(dir, 'k.pem'), gen.key);
    const fromFiles = await loadTls({ certFile: join(dir, 'c.pem'), keyFile: join(dir, 'k.pem') });
    expect(fromFiles.selfSigned).toBe(false);
    const l = await listen({ kind: 'tls', host: '127.0.0.1', port: 0, tls: fromFiles }, (socket) => socket.end('hello\r\n'));
    const c = await LineClient.connect(l.port, { tls: true });
    expect(await c.readLine()).toBe('hello');
    const peer = (c.socket as import('node:tls').TLSSocket).getPeerCertificate();
    expect(peer.subject.CN).toBe('mx.test');
    c.close();
    await l.close();
  });

  it('names the missing file', async () => {
    await expect(loadTls({ certFile: join(dir, 'nope.pem'), keyFile: join(dir, 'k.pem') })).rejects.toThrow(/nope\.pem/);
  });
});

describe('health server', () => {
  it('readyz follows the readiness callback; other methods are refused', async () => {
    let ready = false;
    const h = await startHealthServer({ host: '127.0.0.1', port: 0, ready: () => ready, info: { role: 'test' } });
    try {
      const url = `http://127.0.0.1:${h.port}`;
      expect((await fetch(`${url}/readyz`)).status).toBe(503);
      ready = true;
      const r = await fetch(`${url}/readyz`);
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ status: 'ready', role: 'test' });
      expect((await fetch(`${url}/healthz`, { method: 'POST' })).status).toBe(405);
    } finally {
      await h.close();
    }
  });
});
