import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnNodeProcess, type SpawnedNodeProcess } from '../../bench/imap/child';
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

export type SpawnedNode = SpawnedNodeProcess;

/**
 * Runs `mail-runtime/node/main.ts` as a child process with a config file in
 * `dir` (storage and users inside it) and waits for its ready line.
 */
export async function spawnNode(dir: string, timeoutMs = 30_000): Promise<SpawnedNode> {
  return spawnNodeProcess({ dir, usersFile: join(dir, 'users.yaml'), memberId: 'spawned-node', timeoutMs });
}
