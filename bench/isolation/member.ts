import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { spawnUntilReady } from '../process';

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
  const p = await spawnUntilReady<{ imapPort: number; imapsPort: number; pop3Port: number; healthPort: number }>([join(ROOT, 'bin', 'mailfleet.js'), 'run', '--config', file], { what: 'node', timeoutMs, graceMs: 15_000 });
  const { imapPort, imapsPort, pop3Port, healthPort } = p.ready;
  return { pid: p.child.pid as number, imapPort, imapsPort, pop3Port, healthPort, stop: p.stop };
}
