import { readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStackConfig } from '../../cli/preview/stack-config';
import { platformInvokeResult } from '../../components';
import { runProgram, startFakeEngine, type FakeEngine, type ProgramRun, type Registration } from './pulumi-engine';

/**
 * A failover pair's two site stacks as `pulumi up` runs them (issue 13):
 * `@pulumi/pulumi/cmd/run` started the way the Node.js language host starts
 * it, against the stand-in engine (./pulumi-engine.ts), first the primary
 * stack, then the standby stack, whose StackReference the engine answers
 * with the outputs the primary run registered (secrets still secret). The
 * docker pair, with the engine's client bundle set as the primary stack's
 * header documents (`pulumi config set --secret dockerTls…`).
 *
 * Two program runs, each its own Node process loading the whole program:
 * made once (beforeAll), asserted by several tests.
 */

const ROOT = resolve(__dirname, '..', '..');
const STACKS_DIR = join(ROOT, 'stacks');
const RUN_TIMEOUT_MS = 120_000;

const project = YAML.parse(readFileSync(join(ROOT, 'Pulumi.yaml'), 'utf8')) as { name: string; main?: string; runtime: { options?: { typescript?: boolean; tsconfig?: string } } };

/** Secrets the stack's header says to set (`pulumi config set --secret KEY …`): the engine hands them decrypted. */
function documentedSecrets(stack: string): string[] {
  const text = readFileSync(join(STACKS_DIR, `Pulumi.${stack}.yaml`), 'utf8');
  // A bare key is in the project's namespace, as `pulumi config set` reads it.
  return [...text.matchAll(/^#\s+pulumi config set --secret (\S+) .*$/gm)].filter((m) => !/optional/.test(m[0])).map((m) => (m[1]!.includes(':') ? m[1]! : `${project.name}:${m[1]!}`));
}

const engines: FakeEngine[] = [];
afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
});

async function up(stack: string, stackReferences?: Record<string, Record<string, unknown>>): Promise<{ engine: FakeEngine; run: ProgramRun }> {
  const file = readStackConfig(STACKS_DIR, stack, project.name);
  const secrets = documentedSecrets(stack);
  const engine = await startFakeEngine({ project: project.name, stack, invokeResult: platformInvokeResult, ...(stackReferences ? { stackReferences } : {}) });
  engines.push(engine);
  const main = resolve(ROOT, project.main ?? 'program.ts');
  const run = await runProgram({
    engine,
    project: project.name,
    stack,
    rootDirectory: ROOT,
    programDirectory: dirname(main),
    entryPoint: basename(main),
    dryRun: false,
    config: { ...file.config, ...Object.fromEntries(secrets.map((k) => [k, `test-${k.slice(k.indexOf(':') + 1)}`])) },
    secretKeys: [...file.secretKeys, ...secrets],
    typescript: project.runtime.options?.typescript ?? true,
    ...(project.runtime.options?.tsconfig ? { tsconfig: project.runtime.options.tsconfig } : {}),
    timeoutMs: RUN_TIMEOUT_MS,
  });
  return { engine, run };
}

function explain(stack: string, engine: FakeEngine, run: ProgramRun): string {
  const errors = engine.logs.filter((l) => l.severity === 'error').map((l) => l.message);
  return [`${stack}: exit ${run.code} after ${run.elapsedMs} ms, ${engine.registrations.length} resources`, ...errors, run.stderr.slice(0, 4000)].join('\n');
}

const SECRET_KEY = '4dabf18193072939515e22adb298388d';
const isSecret = (v: unknown): boolean => typeof v === 'object' && v !== null && SECRET_KEY in v;
/** A secret's value (a secret inside a secret too: an apply over secrets that returns secrets). */
const reveal = (v: unknown): unknown => (isSecret(v) ? reveal((v as { value: unknown }).value) : v);
const container = (e: FakeEngine, name: string): Registration | undefined => e.registrations.find((r) => r.type === 'docker:index/container:Container' && r.name === name);

describe('a docker failover pair, both site stacks run by cmd/run (primary, then standby through its StackReference)', { timeout: 2 * RUN_TIMEOUT_MS + 60_000 }, () => {
  let primary: { engine: FakeEngine; run: ProgramRun };
  let standby: { engine: FakeEngine; run: ProgramRun };
  let primaryOutputs: Record<string, unknown>;

  beforeAll(async () => {
    primary = await up('failover-docker-primary');
    expect(primary.run.code, explain('failover-docker-primary', primary.engine, primary.run)).toBe(0);
    primaryOutputs = primary.engine.outputs.get(primary.engine.rootUrn()!)!;
    const ref = String((readStackConfig(STACKS_DIR, 'failover-docker-standby', project.name).config as Record<string, string>)['mailfleet:primaryStack']);
    standby = await up('failover-docker-standby', { [ref]: primaryOutputs });
    expect(standby.run.code, explain('failover-docker-standby', standby.engine, standby.run)).toBe(0);
  }, 2 * RUN_TIMEOUT_MS + 30_000);

  it('the primary runs its member and exports facts in the clear and the power credential as a secret', () => {
    expect(primary.engine.logs.filter((l) => l.severity === 'error')).toEqual([]);
    const site = primary.engine.registrations.filter((r) => r.type === 'mailfleet:index:FailoverSite');
    expect(site).toHaveLength(1);
    const member = container(primary.engine, 'mail-geo-all-0');
    expect(member?.inputs).toMatchObject({ name: 'mail-geo-all-0', start: true, mustRun: true, restart: 'unless-stopped' });
    expect(container(primary.engine, 'mail-geo-controller')).toBeUndefined();
    expect(primaryOutputs).toMatchObject({ site: 'primary', state: 'running', memberId: 'mail-geo-all-0' });
    expect(isSecret(primaryOutputs.failover)).toBe(false);
    expect((primaryOutputs.failover as { power: unknown }).power).toEqual({ kind: 'docker', endpoint: 'https://docker-ams.example.net:2376', container: 'mail-geo-all-0', tls: true });
    // The engine's client bundle (the stack's dockerTls* secrets) is the credential.
    expect(isSecret(primaryOutputs.failoverCredential)).toBe(true);
    expect(JSON.parse(String(reveal(primaryOutputs.failoverCredential)))).toEqual({ ca: 'test-dockerTlsCa', cert: 'test-dockerTlsCert', key: 'test-dockerTlsKey' });
  });

  it('the standby reads the primary through its StackReference, creates its member stopped, and runs the controller with the primary bundle', () => {
    expect(standby.engine.logs.filter((l) => l.severity === 'error')).toEqual([]);
    expect(standby.engine.registrations.filter((r) => r.type === 'pulumi:pulumi:StackReference').map((r) => r.inputs.name)).toEqual(['acme/mailfleet/failover-docker-primary']);
    // Only this site's resources: nothing of the primary's is created here.
    expect(container(standby.engine, 'mail-geo-all-0')).toBeUndefined();
    expect(container(standby.engine, 'mail-geo-all-1')?.inputs).toMatchObject({ name: 'mail-geo-all-1', start: false, mustRun: false, restart: 'no' });
    const ctl = container(standby.engine, 'mail-geo-controller');
    expect(ctl?.inputs).toMatchObject({ command: ['run', '--role', 'failover-controller'], restart: 'unless-stopped' });
    // The uploads as a whole are a secret (they carry the primary's bundle).
    expect(isSecret(ctl!.inputs.uploads)).toBe(true);
    const uploads = (reveal(ctl!.inputs.uploads) as { file: string; content: unknown }[]).map((u) => ({ file: u.file, content: reveal(u.content) }));
    const config = JSON.parse(String(uploads.find((u) => u.file === '/etc/mailfleet/config.json')!.content)) as { primary: { memberId: string; power: Record<string, unknown> }; standby: { power: Record<string, unknown> } };
    expect(config.primary.memberId).toBe('mail-geo-all-0');
    expect(config.primary.power).toMatchObject({ kind: 'docker', endpoint: 'https://docker-ams.example.net:2376', tls: { certFile: '/etc/mailfleet/power/primary-credential-cert.pem' } });
    expect(config.standby.power).toMatchObject({ kind: 'docker', endpoint: 'unix:///var/run/docker.sock', container: 'mail-geo-all-1' });
    expect(uploads.find((u) => u.file === '/etc/mailfleet/power/primary-credential-key.pem')?.content).toBe('test-dockerTlsKey');
    const outputs = standby.engine.outputs.get(standby.engine.rootUrn()!)!;
    expect(outputs).toMatchObject({ site: 'standby', state: 'stopped', memberId: 'mail-geo-all-1' });
    // The copy of the primary's facts the policies read.
    expect(outputs.primary).toEqual(primaryOutputs.failover);
  });
});
