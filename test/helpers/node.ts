import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLogger } from '../../mail-runtime/common/log';
import { startNode, type NodeOptions, type RunningNode } from '../../mail-runtime/node';
import { ALICE, BOB, writeUsersFile, type TestUser } from './users';

export interface TestNode extends RunningNode {
  dir: string;
  usersFile: string;
  users: TestUser[];
  /** Closes the node and removes its storage. */
  dispose(): Promise<void>;
}

/**
 * A node in this process on ephemeral loopback ports with a fresh storage
 * folder and users file (alice and bob unless `users` is given).
 */
export async function startTestNode(
  opts: { users?: TestUser[]; imaps?: boolean; pop3s?: boolean; dir?: string } & Partial<Pick<NodeOptions, 'plaintextAuth' | 'imapIdleTimeoutMs'>> = {},
): Promise<TestNode> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'mf-node-')));
  const usersFile = join(dir, 'users.yaml');
  const users = opts.users ?? [ALICE, BOB];
  await writeUsersFile(usersFile, users);
  const lo = { host: '127.0.0.1', port: 0 };
  const node = await startNode({
    memberId: 'test-node',
    hostname: 'imap.test',
    storagePath: join(dir, 'storage'),
    listen: { imap: lo, pop3: lo, health: lo, ...(opts.imaps ? { imaps: lo } : {}), ...(opts.pop3s ? { pop3s: lo } : {}) },
    directory: { file: usersFile },
    plaintextAuth: opts.plaintextAuth ?? 'loopback',
    ...(opts.imapIdleTimeoutMs ? { imapIdleTimeoutMs: opts.imapIdleTimeoutMs } : {}),
    log: createLogger({}, process.env.MAILFLEET_TEST_LOG ?? 'silent'),
  });
  return {
    ...node,
    dir,
    usersFile,
    users,
    dispose: async () => {
      await node.close();
      if (!opts.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A currently free TCP port on loopback (for configs that cannot say 0). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolvePort(port));
    });
  });
}

export interface SpawnedNode {
  child: ChildProcess;
  imapPort: number;
  pop3Port: number;
  healthPort: number;
  /** Waits for the process to exit. */
  exited: Promise<number | null>;
}

const ROOT = resolve(__dirname, '../..');

/**
 * Runs `mail-runtime/node/main.ts` as a child process with a config file in
 * `dir` (storage and users inside it) and waits for its ready line.
 */
export async function spawnNode(dir: string, timeoutMs = 30_000): Promise<SpawnedNode> {
  const [imap, pop3, lmtp, mgmt] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = join(dir, 'node.json');
  await writeFile(
    config,
    JSON.stringify({
      role: 'node',
      memberId: 'spawned-node',
      cluster: 'test',
      management: { host: '127.0.0.1', port: mgmt },
      storage: { path: join(dir, 'storage') },
      listen: {
        imap: { host: '127.0.0.1', port: imap },
        pop3: { host: '127.0.0.1', port: pop3 },
        lmtp: { host: '127.0.0.1', port: lmtp },
      },
      directory: { file: join(dir, 'users.yaml') },
      logLevel: 'warn',
    }),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'mail-runtime/node/main.ts'), '--config', config], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, VITEST: '' },
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const ready = await new Promise<{ imapPort: number; pop3Port: number; healthPort: number }>((resolveReady, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`node did not start: ${stderr}`)), timeoutMs);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{"ready":true'));
      if (line) {
        clearTimeout(t);
        resolveReady(JSON.parse(line) as { imapPort: number; pop3Port: number; healthPort: number });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`node exited with ${code}: ${stderr}`));
    });
  });
  return { child, ...ready, exited };
}
