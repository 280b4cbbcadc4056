import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

export interface BenchMember {
  pid: number;
  imapPort: number;
  imapsPort: number;
  pop3Port: number;
  healthPort: number;
  /** SIGTERM, SIGKILL after a grace period; resolves when the process is gone. */
  stop(): Promise<void>;
}

/**
 * A node as an operator runs it (`node bin/mailfleet.js run --config`), on
 * loopback with IMAP, IMAPS and POP3, storage and users in `dir`. `limits`
 * goes into the config file as written (the schema fills in the rest).
 */
export async function startMember(dir: string, usersFile: string, limits: Record<string, unknown>, timeoutMs = 60_000): Promise<BenchMember> {
  const any = { host: '127.0.0.1', port: 0 };
  const file = join(dir, 'member.json');
  await writeFile(
    file,
    JSON.stringify({
      role: 'node',
      memberId: 'isolation-node',
      cluster: 'bench',
      management: any,
      storage: { path: join(dir, 'storage') },
      listen: { imap: any, imaps: any, pop3: any, lmtp: any },
      directory: { file: usersFile },
      logLevel: 'error',
      limits,
    }),
  );
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'mailfleet.js'), 'run', '--config', file], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    // The config file says everything: MAILFLEET_* variables of the caller would override it.
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MAILFLEET_') && k !== 'VITEST')),
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const ready = await new Promise<{ imapPort: number; imapsPort: number; pop3Port: number; healthPort: number }>((ok, fail) => {
    let out = '';
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`node did not start within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{"ready":true'));
      if (!line) return;
      clearTimeout(t);
      child.stdout?.off('data', onData);
      child.stdout?.resume();
      ok(JSON.parse(line) as { imapPort: number; imapsPort: number; pop3Port: number; healthPort: number });
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(t);
      fail(new Error(`node exited with ${code}: ${stderr}`));
    });
  });
  return {
    pid: child.pid as number,
    ...ready,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}
