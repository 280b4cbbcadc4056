import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnNodeProcess, type SpawnedNodeProcess } from '../../bench/imap/child';
import { createLogger } from '../../mail-runtime/common/log';
import { parseRuntimeConfig, type RuntimeConfigInput, type RuntimeConfigOf } from '../../mail-runtime/config';
import { nodeOptionsFromConfig, startNode, type NodeOptions, type RunningNode } from '../../mail-runtime/node';
import { ALICE, BOB, writeUsersFile, type TestUser } from './users';
import { spawnUntilReady } from '../../bench/process';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { imapLogin } from './imap';
import type { LineClient } from './line-client';

const ROOT = resolve(__dirname, '../..');

export interface TestNode extends RunningNode {
  dir: string;
  usersFile: string;
  users: TestUser[];
  /** The limits in force (schema defaults unless the test set some). */
  limits: RuntimeConfigOf<'node'>['limits'];
  /** Closes the node and removes its storage. */
  dispose(): Promise<void>;
}

/** `limits` as a config file would write them (the schema fills in the rest). */
export type TestLimits = NonNullable<RuntimeConfigInput['limits']>;

/**
 * A node in this process on ephemeral loopback ports with a fresh storage
 * folder and users file (alice and bob unless `users` is given). Its options
 * go through the RuntimeConfig schema, as a real member's do, so every
 * default is the schema's; `limits` holds the parsed values.
 */
export async function startTestNode(
  opts: {
    users?: TestUser[];
    imaps?: boolean;
    pop3s?: boolean;
    dir?: string;
    plaintextAuth?: 'never' | 'loopback' | 'always';
    limits?: TestLimits;
    /** Serve submission (587, STARTTLS) on an ephemeral port too. */
    submission?: boolean;
    /** Config `gatewayRelay`: the gateway submitted mail for outside goes to. */
    gatewayRelay?: string;
    /** Config `clusterTokenFile`: with gatewayRelay, the node logs in to the gateway's relay listener with it. */
    clusterTokenFile?: string;
    /** Config `clusterTls`: the CA the gateway relay's certificate is verified against. */
    clusterTls?: { caFile: string };
    /** Config `sharedFolders` (the IMAP Shared/ namespace's administrators). */
    sharedFolders?: { admins: Record<string, string[]> };
  } & Partial<Pick<NodeOptions, 'imapIdleTimeoutMs' | 'owns'>> = {},
): Promise<TestNode> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'mf-node-')));
  const usersFile = join(dir, 'users.yaml');
  const users = opts.users ?? [ALICE, BOB];
  await writeUsersFile(usersFile, users);
  const lo = { host: '127.0.0.1', port: 0 };
  const cfg = parseRuntimeConfig(
    {
      role: 'node',
      memberId: 'test-node',
      cluster: 'test',
      hostname: 'imap.test',
      management: lo,
      storage: { path: join(dir, 'storage') },
      listen: { imap: lo, pop3: lo, lmtp: lo, ...(opts.imaps ? { imaps: lo } : {}), ...(opts.pop3s ? { pop3s: lo } : {}), ...(opts.submission ? { submission: lo } : {}) },
      ...(opts.gatewayRelay ? { gatewayRelay: opts.gatewayRelay } : {}),
      ...(opts.clusterTokenFile ? { clusterTokenFile: opts.clusterTokenFile } : {}),
      ...(opts.clusterTls ? { clusterTls: opts.clusterTls } : {}),
      directory: { file: usersFile },
      ...(opts.plaintextAuth ? { plaintextAuth: opts.plaintextAuth } : {}),
      ...(opts.limits ? { limits: opts.limits } : {}),
      ...(opts.sharedFolders ? { sharedFolders: opts.sharedFolders } : {}),
    },
    'test node config',
  );
  if (cfg.role !== 'node') throw new Error('unreachable');
  const node = await startNode({
    ...nodeOptionsFromConfig(cfg),
    ...(opts.imapIdleTimeoutMs ? { imapIdleTimeoutMs: opts.imapIdleTimeoutMs } : {}),
    ...(opts.owns ? { owns: opts.owns } : {}),
    log: createLogger({ role: 'node', member: cfg.memberId }, process.env.MAILFLEET_TEST_LOG ?? 'silent'),
  });
  return {
    ...node,
    dir,
    usersFile,
    users,
    limits: cfg.limits,
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

export interface SpawnedMember {
  child: ChildProcess;
  imapPort: number;
  pop3Port: number;
  healthPort: number;
  /** SIGTERM (SIGKILL after a grace period); resolves when the process is gone. */
  stop(): Promise<void>;
}

/**
 * A member as an operator runs it: writes `config` (a RuntimeConfig of role
 * node, storage and users inside `dir`) to `<dir>/member.json` and starts
 * `node bin/mailfleet.js run --config <file>` on loopback, waiting (bounded)
 * for its ready line. Nothing else configures it: MAILFLEET_* variables of
 * the test process are not passed on.
 */
export async function spawnMember(dir: string, config: Record<string, unknown>, timeoutMs = 30_000): Promise<SpawnedMember> {
  const file = join(dir, 'member.json');
  await writeFile(file, JSON.stringify(config));
  const p = await spawnUntilReady<{ imapPort: number; pop3Port: number; healthPort: number }>([join(ROOT, 'bin', 'mailfleet.js'), 'run', '--config', file], { what: 'member', timeoutMs });
  // Every port of the ready line (imapsPort, lmtpPort, … when configured): callers widen the type for what their config listens on.
  return { ...p.ready, child: p.child, stop: p.stop };
}

/**
 * A node member as the member-level tests run it (`mailfleet run --config`,
 * through spawnMember): IMAP, POP3, LMTP and management on ephemeral
 * loopback ports (implicit-TLS IMAP too with `imaps`), the users file
 * `<dir>/users.yaml` (the caller writes it), storage `<dir>/storage-<memberId>`
 * unless `storage` names another folder, errors-only logs, and the schema's
 * defaults for every limit the test does not set.
 */
export async function spawnNodeMember(
  dir: string,
  opts: { memberId: string; cluster: string; limits?: TestLimits; imaps?: boolean; storage?: string },
): Promise<SpawnedMember> {
  const any = { host: '127.0.0.1', port: 0 };
  return spawnMember(dir, {
    role: 'node',
    memberId: opts.memberId,
    cluster: opts.cluster,
    management: any,
    storage: { path: opts.storage ?? join(dir, `storage-${opts.memberId}`) },
    listen: { imap: any, pop3: any, lmtp: any, ...(opts.imaps ? { imaps: any } : {}) },
    directory: { file: join(dir, 'users.yaml') },
    logLevel: 'error',
    ...(opts.limits ? { limits: opts.limits } : {}),
  });
}

export interface FileImapNode {
  /** The file's node (started in beforeAll). */
  readonly node: TestNode;
  /** A raw IMAP session logged in as the file's user; closed after the test. */
  login(): Promise<LineClient>;
  /** Closes `c` after the test, like the sessions from login(). */
  keep<T extends LineClient>(c: T): T;
}

/**
 * The set-up the raw-protocol IMAP command tests share: one in-process test
 * node for the whole file (started in beforeAll, disposed in afterAll) and
 * raw sessions of `user` that are closed after each test, so a test that
 * fails half-way leaves no session to the next. Call at the top of a file.
 */
export function fileImapNode(opts: Parameters<typeof startTestNode>[0], user: TestUser): FileImapNode {
  let node: TestNode | undefined;
  const open: LineClient[] = [];
  beforeAll(async () => {
    node = await startTestNode(opts);
  });
  afterAll(() => node?.dispose());
  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });
  const keep = <T extends LineClient>(c: T): T => {
    open.push(c);
    return c;
  };
  const started = (): TestNode => {
    if (!node) throw new Error('the file node is not started (fileImapNode is used from a test or hook)');
    return node;
  };
  return {
    get node() {
      return started();
    },
    login: async () => keep(await imapLogin(started().imapPort, user.address, user.password)),
    keep,
  };
}
