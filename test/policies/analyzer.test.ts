import * as grpc from '@grpc/grpc-js';
import { AnalyzerClient } from '@pulumi/pulumi/proto/analyzer_grpc_pb';
import * as analyzerproto from '@pulumi/pulumi/proto/analyzer_pb';
import Ajv, { type ValidateFunction } from 'ajv';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Empty } from 'google-protobuf/google/protobuf/empty_pb';
import { Struct } from 'google-protobuf/google/protobuf/struct_pb';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseClusterSpec } from '../../components/spec';
import { COMPONENT } from '../../policies/lib/tokens';
import { startFakeEngine, type FakeEngine } from '../stacks/pulumi-engine';
import { compliantSpec, modify } from './helpers';

/**
 * The policy pack started exactly the way `pulumi preview --policy-pack
 * policies` starts it: the Node.js language host resolves
 * @pulumi/pulumi/cmd/run-policy-pack from the pack's folder and runs
 * `node <run-policy-pack> <engine address> <pack folder>` with the pack's
 * folder as working directory (pulumi-language-nodejs RunPlugin, kind
 * analyzer); `new PolicyPack` reads ./package.json there and prints the port
 * of its Analyzer gRPC server. We then ask it what the CLI asks
 * (GetAnalyzerInfo) and run a stack analysis through it.
 *
 * Twice: from the repository (policies/, TypeScript through Pulumi's ts-node
 * registration) and from the tarball `npm pack` makes (plain JavaScript),
 * installed into an empty folder.
 */

const ROOT = resolve(__dirname, '..', '..');
const PACK_DIR = join(ROOT, 'policies');
const START_TIMEOUT_MS = 90_000;
const ENFORCEMENT_LEVELS = ['advisory', 'mandatory', 'remediate', 'disabled'] as const;

const packageJson = JSON.parse(readFileSync(join(PACK_DIR, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  files: string[];
};
const rootPackageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  workspaces?: string[];
};
const pulumiPolicyYaml = YAML.parse(readFileSync(join(PACK_DIR, 'PulumiPolicy.yaml'), 'utf8')) as { runtime: unknown; version: string; main?: string };

const EXPECTED_POLICIES = [
  'ha-minimums',
  'failure-domains',
  'shared-storage',
  'failover-pairs',
  'tls-everywhere',
  'no-open-relay',
  'admin-api-private',
  'secrets-stay-secret',
  'resource-floors',
  'pinned-runtime-image',
  'storage-capacity',
  'storage-backups',
  'verified-runtime-package',
  'inbound-antivirus',
];

interface RunningPack {
  child: ChildProcess;
  client: AnalyzerClient;
  stderr: () => string;
}

const running: RunningPack[] = [];
let engine: FakeEngine;

beforeAll(async () => {
  engine = await startFakeEngine({ project: 'mailfleet', stack: 'policy-test' });
});

afterAll(async () => {
  for (const p of running) {
    p.client.close();
    p.child.kill();
  }
  await engine?.close();
});

/** Starts a pack folder the way the language host does and connects to the port it prints. */
async function startPack(packDir: string): Promise<RunningPack> {
  const runPolicyPack = require.resolve('@pulumi/pulumi/cmd/run-policy-pack', { paths: [packDir] });
  const env: NodeJS.ProcessEnv = { ...process.env, PULUMI_NODEJS_PROJECT: 'mailfleet', PULUMI_NODEJS_STACK: 'policy-test', PULUMI_CONFIG: '{}' };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [runPolicyPack, engine.address, packDir], { cwd: packDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`pack in ${packDir} printed no port within ${START_TIMEOUT_MS / 1000} s; stderr:\n${stderr}`)), START_TIMEOUT_MS);
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const line = stdout.split('\n')[0]!;
      if (stdout.includes('\n')) {
        clearTimeout(timer);
        if (/^\d+$/.test(line.trim())) resolvePort(Number(line.trim()));
        else reject(new Error(`pack printed "${line}" instead of a port; stderr:\n${stderr}`));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pack in ${packDir} exited (${code}) before printing a port; stderr:\n${stderr}`));
    });
  });
  const client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const pack = { child, client, stderr: () => stderr };
  running.push(pack);
  return pack;
}

function unary<Req, Res>(call: (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown, req: Req): Promise<Res> {
  return new Promise((ok, fail) => call(req, (err, res) => (err ? fail(err) : ok(res))));
}

function getAnalyzerInfo(pack: RunningPack): Promise<analyzerproto.AnalyzerInfo> {
  return unary<Empty, analyzerproto.AnalyzerInfo>(pack.client.getAnalyzerInfo.bind(pack.client), new Empty());
}

interface ReportedPolicy {
  name: string;
  description: string;
  enforcementLevel: analyzerproto.EnforcementLevel;
  schema?: { properties: Record<string, unknown>; required: string[] };
}

function policiesOf(info: analyzerproto.AnalyzerInfo): ReportedPolicy[] {
  return info.getPoliciesList().map((p) => {
    const s = p.getConfigschema();
    return {
      name: p.getName(),
      description: p.getDescription(),
      enforcementLevel: p.getEnforcementlevel(),
      ...(s ? { schema: { properties: (s.getProperties()?.toJavaScript() ?? {}) as Record<string, unknown>, required: s.getRequiredList() } } : {}),
    };
  });
}

/**
 * A validator per policy for Pulumi's policy config file format, built from
 * the schemas the running pack reports, as the CLI does: the policy's
 * properties plus the enforcementLevel the engine injects, its required list.
 * Unknown settings are refused too (the offline gate refuses them as well).
 */
function configValidators(policies: readonly ReportedPolicy[]): Map<string, ValidateFunction> {
  const ajv = new Ajv({ allErrors: true, strict: false });
  return new Map(
    policies.map((p) => [
      p.name,
      ajv.compile({
        type: 'object',
        properties: { ...(p.schema?.properties ?? {}), enforcementLevel: { type: 'string', enum: [...ENFORCEMENT_LEVELS] } },
        required: p.schema?.required ?? [],
        additionalProperties: false,
      }),
    ]),
  );
}

/** Problems with a policy config file (Pulumi's format), checked against the running pack's schemas. */
function validateConfigFile(config: unknown, validators: Map<string, ValidateFunction>): string[] {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return ['the file must hold a JSON object'];
  const problems: string[] = [];
  for (const [name, entry] of Object.entries(config)) {
    if (name !== 'all' && !validators.has(name)) {
      problems.push(`${name}: no such policy in the pack`);
      continue;
    }
    if (typeof entry === 'string') {
      if (!(ENFORCEMENT_LEVELS as readonly string[]).includes(entry)) problems.push(`${name}: "${entry}" is not an enforcement level`);
      continue;
    }
    if (name === 'all') {
      problems.push('all: must be an enforcement level');
      continue;
    }
    const validate = validators.get(name)!;
    if (!validate(entry)) problems.push(...(validate.errors ?? []).map((e) => `${name}${e.instancePath.replace(/\//g, '.')}: ${e.message}`));
  }
  return problems;
}

/** A stack with one MailCluster whose spec violates ha-minimums (one node), as the engine sends it to AnalyzeStack. */
function analyzeStackRequest(): analyzerproto.AnalyzeStackRequest {
  const spec = JSON.parse(JSON.stringify(parseClusterSpec(modify(compliantSpec('proxmox'), (s) => (s.nodes.count = 1))))) as Record<string, unknown>;
  const res = new analyzerproto.AnalyzerResource();
  res.setType(COMPONENT.mailCluster);
  res.setUrn(`urn:pulumi:policy-test::mailfleet::${COMPONENT.mailCluster}::${String(spec.name)}`);
  res.setName(String(spec.name));
  res.setProperties(Struct.fromJavaScript({ spec } as Parameters<typeof Struct.fromJavaScript>[0]));
  res.setOptions(new analyzerproto.AnalyzerResourceOptions());
  const req = new analyzerproto.AnalyzeStackRequest();
  req.setResourcesList([res]);
  return req;
}

async function expectServesThePack(pack: RunningPack): Promise<ReportedPolicy[]> {
  const info = await getAnalyzerInfo(pack);
  expect(info.getName()).toBe('mailfleet');
  expect(info.getVersion()).toBe(packageJson.version);
  expect(info.getSupportsconfig()).toBe(true);
  const policies = policiesOf(info);
  expect(policies.map((p) => p.name)).toEqual(EXPECTED_POLICIES);
  for (const p of policies) expect(p.description.length, p.name).toBeGreaterThan(40);
  const withKnobs = policies.filter((p) => Object.keys(p.schema?.properties ?? {}).length > 0).map((p) => p.name);
  expect(withKnobs).toEqual(expect.arrayContaining(['ha-minimums', 'failure-domains', 'resource-floors', 'storage-capacity', 'storage-backups']));
  // The rules really run in the pack's process: a one-node production cluster breaks ha-minimums.
  const resp = await unary<analyzerproto.AnalyzeStackRequest, analyzerproto.AnalyzeResponse>(pack.client.analyzeStack.bind(pack.client), analyzeStackRequest());
  const violated = [...new Set(resp.getDiagnosticsList().map((d) => d.getPolicyname()))];
  expect(violated).toEqual(['ha-minimums']);
  expect(resp.getDiagnosticsList()[0]!.getEnforcementlevel()).toBe(analyzerproto.EnforcementLevel.MANDATORY);
  return policies;
}

describe('policies/ is a self-contained npm package', () => {
  it('package.json: name, one version with PulumiPolicy.yaml, pinned dependencies equal to the root', () => {
    expect(packageJson.name).toBe('mailfleet-policies');
    expect(packageJson.version).toMatch(/^\d+\.\d+\.\d+$/);
    // The CLI reports PulumiPolicy.yaml's version over the pack's (package.json): they must agree.
    expect(pulumiPolicyYaml.version).toBe(packageJson.version);
    expect(pulumiPolicyYaml.runtime).toBe('nodejs');
    expect(pulumiPolicyYaml.main).toBeUndefined();
    expect(Object.keys(packageJson.dependencies).sort()).toEqual(['@pulumi/policy', '@pulumi/pulumi', 'yaml']);
    for (const [dep, version] of Object.entries(packageJson.dependencies)) {
      expect(version, dep).toMatch(/^\d+\.\d+\.\d+$/);
      expect(version, `${dep} differs from the root package.json`).toBe(rootPackageJson.dependencies[dep]);
    }
    // One install step: the root's `npm ci` installs the pack as a workspace.
    expect(rootPackageJson.workspaces).toContain('policies');
    expect(existsSync(join(ROOT, 'node_modules', packageJson.name, 'PulumiPolicy.yaml'))).toBe(true);
  });

  it('the working tree holds no compiled .js next to the sources (it would shadow them)', () => {
    for (const dir of ['.', 'lib', 'rules']) {
      const files = readdirSync(join(PACK_DIR, dir));
      const shadowing = files.filter((f) => f.endsWith('.js') && files.includes(`${f.slice(0, -3)}.ts`));
      expect(shadowing, dir).toEqual([]);
    }
  });
});

describe('started from the repository (pulumi preview --policy-pack policies)', () => {
  let policies: ReportedPolicy[];

  it(
    'answers GetAnalyzerInfo with name, version and all 14 policies, and analyzes a stack',
    async () => {
      const pack = await startPack(PACK_DIR);
      policies = await expectServesThePack(pack);
    },
    START_TIMEOUT_MS + 30_000,
  );

  it('every shipped policy config file (policies/config/*.json) is valid for the schemas the running pack reports', () => {
    expect(policies).toBeDefined();
    const validators = configValidators(policies);
    const files = readdirSync(join(PACK_DIR, 'config')).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const config: unknown = JSON.parse(readFileSync(join(PACK_DIR, 'config', f), 'utf8'));
      expect(validateConfigFile(config, validators), f).toEqual([]);
    }
  });

  it('the validator refuses what the CLI would: wrong types, out-of-range values, unknown settings, levels and policies', () => {
    expect(policies).toBeDefined();
    const validators = configValidators(policies);
    expect(validateConfigFile({ 'storage-capacity': { headroomPercent: 'lots' } }, validators)).toEqual(['storage-capacity.headroomPercent: must be number']);
    expect(validateConfigFile({ 'storage-capacity': { headroomPercent: -1 } }, validators)).toEqual(['storage-capacity.headroomPercent: must be >= 0']);
    expect(validateConfigFile({ 'ha-minimums': { minimums: { nodes: 0 } } }, validators)).toEqual(['ha-minimums.minimums.nodes: must be >= 1']);
    expect(validateConfigFile({ 'ha-minimums': { minimum: 3 } }, validators)).toEqual(['ha-minimums: must NOT have additional properties']);
    expect(validateConfigFile({ 'ha-minimums': { enforcementLevel: 'sometimes' } }, validators)).toEqual(['ha-minimums.enforcementLevel: must be equal to one of the allowed values']);
    expect(validateConfigFile({ 'ha-minimum': 'advisory' }, validators)).toEqual(['ha-minimum: no such policy in the pack']);
    expect(validateConfigFile({ all: 'advisory', 'storage-backups': 'disabled' }, validators)).toEqual([]);
  });
});

describe('started from its npm pack tarball, installed into an empty folder', () => {
  let work: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'mailfleet-pack-'));
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it(
    'npm pack ships compiled JavaScript only; the installed pack serves all 14 policies',
    async () => {
      // `npm pack` builds in the folder it packs (prepack emits .js next to each
      // .ts, postpack removes them). An exact copy of policies/ is packed, so
      // other test files reading the sources meanwhile never see half-built
      // JavaScript; its node_modules link gives the build the repository's
      // TypeScript and types, as the workspace does.
      const copy = join(work, 'policies');
      cpSync(PACK_DIR, copy, { recursive: true, filter: (src) => !src.includes(`${PACK_DIR}/node_modules`) });
      symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
      const packOut = join(work, 'out');
      mkdirSync(packOut);
      const { stdout } = await promisify(execFile)('npm', ['pack', '--json', '--pack-destination', packOut], { cwd: copy, maxBuffer: 16 * 1024 * 1024 });
      const [report] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
      const shipped = report!.files.map((f) => f.path).sort();
      expect(shipped).toContain('index.js');
      expect(shipped).toContain('policies.js');
      expect(shipped).toContain('PulumiPolicy.yaml');
      expect(shipped).toContain('package.json');
      expect(shipped.filter((f) => f.startsWith('rules/'))).toHaveLength(EXPECTED_POLICIES.length);
      expect(shipped.filter((f) => f.endsWith('.ts'))).toEqual([]);
      // postpack cleaned up after the build.
      expect(readdirSync(copy).filter((f) => f.endsWith('.js'))).toEqual([]);

      // An empty project installs the tarball (its dependencies come from the npm cache, or the registry).
      const consumer = join(work, 'consumer');
      mkdirSync(consumer);
      writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'pack-consumer', version: '1.0.0', private: true }));
      await promisify(execFile)('npm', ['install', join(packOut, report!.filename), '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
        cwd: consumer,
        maxBuffer: 16 * 1024 * 1024,
      });
      const installed = join(consumer, 'node_modules', packageJson.name);
      // No TypeScript is needed to run it.
      expect(existsSync(join(consumer, 'node_modules', 'typescript'))).toBe(false);

      const pack = await startPack(installed);
      await expectServesThePack(pack);
    },
    300_000,
  );
});
