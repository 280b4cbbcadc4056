import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLogger } from '../../mail-runtime/common/log';
import { parseRuntimeConfig, type RuntimeConfigInput } from '../../mail-runtime/config';
import { gatewayOptionsFromConfig, startGateway, type GatewayOptions, type RunningGateway } from '../../mail-runtime/gateway';
import { ALICE, BOB, writeUsersFile, type TestUser } from './users';
import { spawnUntilReady } from '../../bench/process';

const ROOT = resolve(__dirname, '../..');

/** Hosted users of the test gateways: alice (alias ali@) and bob at example.com. */
export const HOSTED_DOMAIN = 'example.com';

/** A gateway config as a file would hold it; storage, users and ports are filled in by the helpers. */
export type GatewayConfigInput = Extract<RuntimeConfigInput, { role: 'gateway' }>;

export function gatewayConfig(dir: string, lmtpPort: number | undefined, extra: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
  const lo = { host: '127.0.0.1', port: 0 };
  return {
    role: 'gateway',
    memberId: 'test-gateway-0',
    cluster: 'test',
    hostname: 'mx.test',
    management: lo,
    storage: { path: join(dir, 'storage') },
    listen: { smtp: lo },
    hostedDomains: [HOSTED_DOMAIN],
    directory: { file: join(dir, 'users.yaml') },
    ...(lmtpPort ? { placement: { default: { memberId: 'test-node-0', host: '127.0.0.1', port: lmtpPort } } } : {}),
    ...extra,
    // SPF/DKIM/DMARC would ask the machine's DNS (no internet here): off unless a test turns it on (with a resolver stub).
    filters: { authentication: { enabled: false }, ...extra.filters },
    // Nor does the outbound transport, unless a test gives its DNS stub.
    outbound: { resolvers: ['127.0.0.1:9'], ...extra.outbound },
  };
}

export interface TestGateway extends RunningGateway {
  dir: string;
  dispose(): Promise<void>;
}

/** Users file with aliases (the gateway's directory): alice has ali@example.com as an alias. */
export async function writeGatewayUsers(file: string, users: readonly TestUser[] = [ALICE, BOB]): Promise<void> {
  await writeUsersFile(file, users);
  // writeUsersFile has no aliases: add alice's.
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace(`  - address: ${ALICE.address}\n`, `  - address: ${ALICE.address}\n    aliases: [ali@${HOSTED_DOMAIN}]\n`));
}

/**
 * A gateway in this process on loopback, its options through the
 * RuntimeConfig schema as a real member's are (every default the schema's).
 * `over` sets what a config file cannot (filters, the outbound transport…).
 */
export async function startTestGateway(
  opts: { lmtpPort?: number; dir?: string; config?: Partial<GatewayConfigInput>; over?: Partial<GatewayOptions> } = {},
): Promise<TestGateway> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'mf-gw-')));
  await writeGatewayUsers(join(dir, 'users.yaml'));
  const cfg = parseRuntimeConfig(gatewayConfig(dir, opts.lmtpPort, opts.config), 'test gateway config');
  if (cfg.role !== 'gateway') throw new Error('unreachable');
  const gw = await startGateway({
    ...gatewayOptionsFromConfig(cfg),
    log: createLogger({ role: 'gateway', member: cfg.memberId }, process.env.MAILFLEET_TEST_LOG ?? 'silent'),
    ...opts.over,
  });
  return {
    ...gw,
    dir,
    dispose: async () => {
      await gw.close();
      if (!opts.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface SpawnedGateway {
  child: ChildProcess;
  smtpPort: number;
  healthPort: number;
  /** SIGKILL: the process is gone at once, nothing flushed (kill -9). */
  kill(): Promise<void>;
  /** SIGTERM, SIGKILL after a grace period. */
  stop(): Promise<void>;
}

/**
 * The gateway as an operator runs it: `node bin/mailfleet.js run --role
 * gateway --config <dir>/gateway.json`, waiting (bounded) for its ready line.
 * MAILFLEET_* variables of the test process are not passed on.
 */
export async function spawnGateway(dir: string, config: GatewayConfigInput, timeoutMs = 120_000): Promise<SpawnedGateway> {
  const file = join(dir, 'gateway.json');
  await writeFile(file, JSON.stringify(config));
  const p = await spawnUntilReady<{ smtpPort: number; healthPort: number }>([join(ROOT, 'bin', 'mailfleet.js'), 'run', '--role', 'gateway', '--config', file], {
    what: 'gateway',
    timeoutMs,
    env: { MAILFLEET_LOG_LEVEL: process.env.MAILFLEET_TEST_LOG ?? 'warn' },
  });
  // Every port of the ready line (relayPort, … when configured), as before the shared spawn helper.
  return { ...p.ready, child: p.child, kill: p.kill, stop: p.stop };
}
