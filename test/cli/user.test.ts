import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { promptSecretTwice } from '../../cli/secret-input';
import { verifyPassword } from '../../mail-runtime/auth';

const root = join(__dirname, '..', '..');
const bin = join(root, 'bin', 'mailfleet.js');

/** Runs `mailfleet user hash` as a subprocess with `input` piped to stdin. */
function hash(input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [bin, 'user', 'hash'], { cwd: root }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

describe('mailfleet user hash', () => {
  it('hashes the first line of stdin into a hash the runtime verifies', async () => {
    const r = await hash('correct horse battery staple\nignored second line\n');
    expect(r.code).toBe(0);
    const line = r.stdout.trim();
    expect(line).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await verifyPassword('correct horse battery staple', line)).toBe(true);
    expect(await verifyPassword('ignored second line', line)).toBe(false);
    expect(r.stdout).not.toContain('correct horse');
  });

  it('refuses an empty password with a message and exit 1', async () => {
    const r = await hash('');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('no password given');
  });

  it('a terminal prompt does not echo the password and asks twice', async () => {
    const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
    const output = Object.assign(new PassThrough(), { isTTY: true, columns: 80 });
    let shown = '';
    output.on('data', (c: Buffer) => (shown += c.toString()));
    const answer = promptSecretTwice(input, output, 'password');
    input.write('s3cret\r');
    await new Promise((r) => setImmediate(r));
    input.write('s3cret\r');
    await expect(answer).resolves.toBe('s3cret');
    expect(shown).toContain('password: ');
    expect(shown).toContain('password (again): ');
    expect(shown).not.toContain('s3cret');
  });

  it('a terminal prompt refuses two different entries', async () => {
    const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
    const output = Object.assign(new PassThrough(), { isTTY: true, columns: 80 });
    const answer = promptSecretTwice(input, output, 'password');
    input.write('one\r');
    await new Promise((r) => setImmediate(r));
    input.write('two\r');
    await expect(answer).rejects.toThrow('the two entries differ');
  });
});
