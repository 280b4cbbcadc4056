import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import YAML from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { listStacks, readStackConfig } from '../../cli/preview/stack-config';
import { platformInvokeResult } from '../../components';
import { runProgram, startFakeEngine, type FakeEngine, type ProgramRun } from './pulumi-engine';

/**
 * Every shipped stack, loaded the way `pulumi preview` and `pulumi up` load
 * it: the engine's program directory and entry point from Pulumi.yaml `main`,
 * @pulumi/pulumi/cmd/run started the way the Node.js language host starts it
 * (runtime options from Pulumi.yaml: TypeScript through Pulumi's ts-node
 * registration, with the tsconfig it names), talking gRPC to a stand-in
 * engine whose providers compute nothing (test/stacks/pulumi-engine.ts).
 *
 * - preview (`--dry-run`): what a provider would compute is unknown;
 * - update: what a provider would compute is simply absent (the outputs are
 *   the inputs), so a program that assumes such a value exists fails here.
 *
 * Each run is its own Node process loading the whole program, with its own
 * stand-in engine: the runs are concurrent tests (at most maxConcurrency of
 * vitest.config.mts at a time, so two on the 2-core CI machine whose single
 * shared worker would leave the second core idle), each bounded by
 * RUN_TIMEOUT_MS.
 */

const ROOT = resolve(__dirname, '..', '..');
const STACKS_DIR = join(ROOT, 'stacks');
const RUN_TIMEOUT_MS = 120_000;

interface ProjectFile {
  name: string;
  main?: string;
  stackConfigDir?: string;
  runtime: { name: string; options?: { typescript?: boolean; tsconfig?: string } };
  config?: Record<string, { type?: string; default?: unknown; description?: string }>;
}

const project = YAML.parse(readFileSync(join(ROOT, 'Pulumi.yaml'), 'utf8')) as ProjectFile;

/** The engine's ProgramInfo for `main`: a file runs from its folder, as its base name; a folder runs as ".". */
function programInfo(main: string | undefined): { programDirectory: string; entryPoint: string } {
  const abs = resolve(ROOT, main ?? '.');
  if (main === undefined || !/\.[cm]?[jt]s$/.test(main)) return { programDirectory: abs, entryPoint: '.' };
  return { programDirectory: dirname(abs), entryPoint: basename(abs) };
}

/**
 * Secrets a stack needs at deploy time, as its own header documents them
 * (`pulumi config set --secret KEY ...` lines not marked optional). They are
 * not in the stack file; `pulumi config set --secret` or an ESC environment
 * provides them, and the engine hands them to the program decrypted with
 * their keys listed in PULUMI_CONFIG_SECRET_KEYS.
 */
function documentedRequiredSecrets(stack: string): string[] {
  const text = readFileSync(join(STACKS_DIR, `Pulumi.${stack}.yaml`), 'utf8');
  return [...text.matchAll(/^#\s+pulumi config set --secret (\S+) .*$/gm)].filter((m) => !/optional/.test(m[0])).map((m) => m[1]!);
}

/** Project config defaults (Pulumi.yaml `config: { key: { default } }`), applied by the engine when a stack does not set the key. */
function projectDefaults(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(project.config ?? {})
      .filter(([, v]) => v.default !== undefined)
      .map(([k, v]) => [k, typeof v.default === 'string' ? v.default : JSON.stringify(v.default)]),
  );
}

const PLATFORM_PREFIX: Record<string, string> = { 'ha-kubernetes': 'kubernetes:', 'ha-docker': 'docker:', 'ha-proxmox': 'proxmoxve:', 'ha-vsphere': 'vsphere:' };
const ROLE_TYPES = ['Hub', 'MailNode', 'Gateway', 'Proxy', 'SharedStorage', 'LoadBalancer'].map((t) => `mailfleet:index:${t}`);

const engines: FakeEngine[] = [];
afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
});

async function load(stack: string, dryRun: boolean): Promise<{ engine: FakeEngine; run: ProgramRun }> {
  const file = readStackConfig(STACKS_DIR, stack, project.name);
  const secrets = documentedRequiredSecrets(stack);
  const config = {
    ...projectDefaults(),
    ...file.config,
    ...Object.fromEntries(secrets.map((k) => [k, `test-${k.replace(/\W/g, '-')}`])),
  };
  const engine = await startFakeEngine({ project: project.name, stack, invokeResult: platformInvokeResult });
  engines.push(engine);
  const run = await runProgram({
    engine,
    project: project.name,
    stack,
    rootDirectory: ROOT,
    ...programInfo(project.main),
    dryRun,
    config,
    secretKeys: [...file.secretKeys, ...secrets],
    typescript: project.runtime.options?.typescript ?? true,
    tsconfig: project.runtime.options?.tsconfig,
    timeoutMs: RUN_TIMEOUT_MS,
  });
  return { engine, run };
}

function explain(stack: string, engine: FakeEngine, run: ProgramRun): string {
  const errors = engine.logs.filter((l) => l.severity === 'error').map((l) => l.message);
  return [
    `${stack}: exit ${run.code}${run.signal ? ` (${run.signal}: no exit within ${RUN_TIMEOUT_MS / 1000} s, likely an exception inside apply)` : ''} after ${run.elapsedMs} ms, ${engine.registrations.length} resources registered`,
    ...errors,
    run.stderr.slice(0, 4000),
  ].join('\n');
}

describe.concurrent('the Pulumi program as the engine runs it', () => {
  it('main is a file at the project root: the engine runs it from the root, where tsconfig.json and node_modules are', () => {
    expect(project.main).toBe('program.ts');
    const info = programInfo(project.main);
    expect(info).toEqual({ programDirectory: ROOT, entryPoint: 'program.ts' });
    expect(existsSync(join(info.programDirectory, 'tsconfig.json'))).toBe(true);
    // The language host discovers provider plugins from node_modules under the program directory.
    for (const pkg of ['@pulumi/kubernetes', '@pulumi/docker', '@muhlba91/pulumi-proxmoxve', '@pulumi/random', '@pulumi/tls']) {
      const manifest = JSON.parse(readFileSync(join(info.programDirectory, 'node_modules', pkg, 'package.json'), 'utf8')) as { pulumi?: { resource?: boolean } };
      expect(manifest.pulumi?.resource, pkg).toBe(true);
    }
    // The library entry (index.ts) is a different file: Pulumi's component analyzer falls back to it.
    expect(project.main).not.toBe('index.ts');
  });

  it('compiles without a type check (CI type-checks), with TypeScript 6 settings that need rootDir', () => {
    expect(project.runtime).toMatchObject({ name: 'nodejs', options: { typescript: true, tsconfig: 'tsconfig.pulumi.json' } });
    // cmd/run reads noCheck from the named file itself (it does not follow "extends").
    const raw = ts.parseConfigFileTextToJson('tsconfig.pulumi.json', readFileSync(join(ROOT, 'tsconfig.pulumi.json'), 'utf8')).config as {
      extends?: string;
      compilerOptions?: Record<string, unknown>;
    };
    expect(raw.extends).toBe('./tsconfig.json');
    expect(raw.compilerOptions?.noCheck).toBe(true);
    const base = ts.parseConfigFileTextToJson('tsconfig.json', readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')).config as { compilerOptions: Record<string, unknown>; include: string[] };
    // TS5011 without it: ts-node compiles with an outDir, and the common source dir is ./stacks.
    expect(base.compilerOptions.rootDir).toBe('.');
    expect(base.include).toContain('program.ts');
  });

  it('declares mailfleet:cluster as an object and every stack sets it as one', () => {
    expect(project.config?.['mailfleet:cluster']).toMatchObject({ type: 'object' });
    for (const stack of listStacks(STACKS_DIR).filter((s) => !s.startsWith('failover-'))) {
      const doc = YAML.parse(readFileSync(join(STACKS_DIR, `Pulumi.${stack}.yaml`), 'utf8')) as { config: Record<string, unknown> };
      const cluster = doc.config['mailfleet:cluster'];
      expect(typeof cluster === 'object' && cluster !== null && !Array.isArray(cluster), stack).toBe(true);
    }
  });

  // HA cluster stacks. The failover site stacks (mailfleet:pair, a StackReference the stand-in engine does not serve) run under mocks in test/stacks/failover-stacks.test.ts.
  const stacks = listStacks(STACKS_DIR).filter((s) => !s.startsWith('failover-'));
  it('ships one HA stack per platform', () => {
    expect(stacks).toEqual(expect.arrayContaining(Object.keys(PLATFORM_PREFIX)));
  });

  describe.each(stacks)('%s', (stack) => {
    it.each([
      ['preview', true],
      ['update (outputs are only the inputs)', false],
    ] as const)(
      '%s: cmd/run loads and runs the program to the end',
      async (_mode, dryRun) => {
        const { engine, run } = await load(stack, dryRun);
        expect(run.code, explain(stack, engine, run)).toBe(0);
        expect(engine.logs.filter((l) => l.severity === 'error')).toEqual([]);
        expect(engine.duplicates).toEqual([]);

        const root = engine.rootUrn();
        expect(root).toBe(`urn:pulumi:${stack}::${project.name}::pulumi:pulumi:Stack::${project.name}-${stack}`);
        const types = engine.registrations.map((r) => r.type);
        expect(types.filter((t) => t === 'mailfleet:index:MailCluster')).toHaveLength(1);
        for (const t of ROLE_TYPES) expect(types.filter((x) => x === t), t).toHaveLength(1);
        const prefix = PLATFORM_PREFIX[stack];
        if (prefix) expect(types.some((t) => t.startsWith(prefix))).toBe(true);
        // Every resource but the stack has a parent (nothing escapes the component tree).
        expect(engine.registrations.filter((r) => r.type !== 'pulumi:pulumi:Stack' && !r.type.startsWith('pulumi:providers:') && !r.parent)).toEqual([]);

        // The stack's exports reached the engine.
        const outputs = engine.outputs.get(root!);
        expect(outputs).toBeDefined();
        expect(Object.keys(outputs!)).toEqual(expect.arrayContaining(['endpoints', 'adminUrl', 'members', 'storage']));
      },
      RUN_TIMEOUT_MS + 30_000,
    );
  });
});
