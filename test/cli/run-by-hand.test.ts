import { spawn, execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * README "Running one member by hand", command for command, in a scratch
 * folder: hash a password, write a users file, render one node's config,
 * run it, log in. Ports come from MAILFLEET_LISTEN_* overrides so the test
 * never collides with a local cluster on the default ports.
 */
const ROOT = resolve(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'mailfleet.js');
let dir: string;

const cleanEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MAILFLEET_') && k !== 'VITEST'));

function mailfleet(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd: dir, env: cleanEnv() }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(input ?? '');
  });
}

interface Running {
  ports: { imapPort: number; imapsPort: number };
  stop(): Promise<void>;
}

/** `mailfleet run --config FILE` until its ready line; rejects with stderr when it exits first. */
function run(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<Running> {
  const any = '127.0.0.1:0';
  const child = spawn(process.execPath, [BIN, 'run', '--config', configFile], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...cleanEnv(),
      ...Object.fromEntries(['IMAP', 'IMAPS', 'POP3', 'POP3S', 'LMTP', 'SUBMISSION'].map((l) => [`MAILFLEET_LISTEN_${l}`, any])),
      MAILFLEET_MANAGEMENT: any,
      MAILFLEET_LOG_LEVEL: 'error',
      ...env,
    },
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((ready, fail) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{"ready":true'));
      if (line) {
        ready({
          ports: JSON.parse(line) as Running['ports'],
          stop: () =>
            new Promise((stopped) => {
              child.once('exit', () => stopped());
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.once('exit', (code) => fail(new Error(`exit ${code}: ${stderr}`)));
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mf-by-hand-'));
  await copyFile(join(ROOT, 'examples/specs/local.yaml'), join(dir, 'local.yaml'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('running one node by hand (README)', () => {
  it('hash → users file → render --member → run → log in over IMAP and IMAPS; the generated certificate is kept', async () => {
    const hash = await mailfleet(['user', 'hash'], 's3cret-by-hand\n');
    expect(hash.code, hash.stderr).toBe(0);
    await writeFile(join(dir, 'users.yaml'), `users:\n  - address: alice@example.test\n    password: ${hash.stdout.trim()}\n`);
    const rendered = await mailfleet(['render', 'local.yaml', '--member', 'demo-node-0', '--users', 'users.yaml']);
    expect(rendered.code, rendered.stderr).toBe(0);
    await writeFile(join(dir, 'node.yaml'), rendered.stdout);

    const node = await run('node.yaml');
    try {
      const client = new ImapFlow({ host: '127.0.0.1', port: node.ports.imapPort, secure: false, auth: { user: 'alice@example.test', pass: 's3cret-by-hand' }, tls: { rejectUnauthorized: false }, logger: false });
      await client.connect();
      await client.append('INBOX', 'Subject: by hand\r\n\r\nhello\r\n');
      expect(await client.status('INBOX', { messages: true })).toMatchObject({ messages: 1 });
      await client.logout();
      // IMAPS serves the certificate the node generated into .mailfleet/tls/.
      const pem = await readFile(join(dir, '.mailfleet/tls/cert.pem'), 'utf8');
      const served = await new Promise<string>((ok, bad) => {
        const s = tlsConnect({ host: '127.0.0.1', port: node.ports.imapsPort, rejectUnauthorized: false }, () => {
          ok(s.getPeerX509Certificate()!.toString());
          s.end();
        });
        s.once('error', bad);
      });
      expect(served.replace(/\s/g, '')).toBe(pem.replace(/\s/g, ''));
    } finally {
      await node.stop();
    }
    // A second start reuses the pair instead of generating another.
    const before = await readFile(join(dir, '.mailfleet/tls/cert.pem'), 'utf8');
    const again = await run('node.yaml');
    await again.stop();
    expect(await readFile(join(dir, '.mailfleet/tls/cert.pem'), 'utf8')).toBe(before);
  }, 60_000);

  it('without generateIfMissing a missing certificate stops the member with the file named', async () => {
    const cfg = (await readFile(join(dir, 'node.yaml'), 'utf8')).replace('generateIfMissing: true', 'generateIfMissing: false');
    await writeFile(join(dir, 'prod-like.yaml'), cfg);
    await expect(run('prod-like.yaml', { MAILFLEET_TLS_CERT_FILE: 'missing/cert.pem', MAILFLEET_TLS_KEY_FILE: 'missing/key.pem' })).rejects.toThrow(/TLS certificate file missing\/cert\.pem cannot be read \(ENOENT; tls\.certFile\)/);
  }, 60_000);
});
