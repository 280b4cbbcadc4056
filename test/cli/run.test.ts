import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, describe, expect, it } from 'vitest';
import { ALICE, writeUsersFile } from '../helpers/users';

const root = join(__dirname, '..', '..');
const bin = join(root, 'bin', 'mailfleet.js');
const dir = mkdtempSync(join(tmpdir(), 'mf-run-'));
const children: ReturnType<typeof spawn>[] = [];
afterAll(() => children.forEach((c) => c.kill('SIGKILL')));

/** Starts `mailfleet <args>` and resolves with its first stdout line, or its exit. */
function start(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, ...env, MAILFLEET_LOG_LEVEL: 'silent' } });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const firstLine = new Promise<{ line?: string; code?: number | null; stderr: string }>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('\n')) resolve({ line: stdout.split('\n')[0], stderr });
    });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, firstLine, exited };
}

describe('mailfleet run (subprocess)', () => {
  it('runs a node from a config file; a real IMAP client logs in; SIGTERM stops it cleanly', async () => {
    const users = join(dir, 'users.yaml');
    await writeUsersFile(users, [ALICE]);
    const config = join(dir, 'node.json');
    const port = (n: number) => ({ host: '127.0.0.1', port: n });
    writeFileSync(
      config,
      JSON.stringify({
        role: 'node',
        memberId: 'demo-node-0',
        cluster: 'demo',
        management: port(0),
        storage: { path: join(dir, 'storage') },
        listen: { imap: port(0), pop3: port(0), lmtp: port(0) },
        directory: { file: users },
      }),
    );
    const { child, firstLine, exited } = start(['run', '--role', 'node', '--config', config]);
    const first = await firstLine;
    expect(first.stderr).toBe('');
    const ready = JSON.parse(first.line!) as { ready: boolean; role: string; imapPort: number };
    expect(ready).toMatchObject({ ready: true, role: 'node', memberId: 'demo-node-0' });
    const client = new ImapFlow({ host: '127.0.0.1', port: ready.imapPort, secure: false, auth: { user: ALICE.address, pass: ALICE.password }, logger: false, tls: { rejectUnauthorized: false } });
    await client.connect();
    const list = await client.list();
    expect(list.map((m) => m.path)).toContain('INBOX');
    await client.logout();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('a bad environment value names the variable and exits 1', async () => {
    const { firstLine } = start(['run'], { MAILFLEET_ROLE: 'node', MAILFLEET_LISTEN_IMAP: 'nowhere' });
    const r = await firstLine;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('MAILFLEET_LISTEN_IMAP');
  });

  it('a role mismatch is a usage error (exit 2)', async () => {
    // Every role runs now (the all-in-one pair member too: test/failover/pair-member.test.ts).
    const all = join(dir, 'all.yaml');
    writeFileSync(
      all,
      'role: all\nmemberId: demo-all-0\ncluster: demo\nmanagement: { port: 1 }\nstorage: { path: /tmp/x }\n' +
        'listen: { http: { port: 2 }, smtp: { port: 3 }, imap: { port: 4 }, pop3: { port: 5 }, submission: { port: 6 }, lmtp: { port: 7 } }\n',
    );
    const b = await start(['run', '--role', 'node', '--config', all]).firstLine;
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('does not match');
  });
});
