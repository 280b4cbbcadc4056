import * as grpc from '@grpc/grpc-js';
import * as enginerpc from '@pulumi/pulumi/proto/engine_grpc_pb';
import * as engineproto from '@pulumi/pulumi/proto/engine_pb';
import * as providerproto from '@pulumi/pulumi/proto/provider_pb';
import * as resrpc from '@pulumi/pulumi/proto/resource_grpc_pb';
import * as resproto from '@pulumi/pulumi/proto/resource_pb';
import { deserializeProperties } from '@pulumi/pulumi/runtime/rpc';
import { spawn } from 'node:child_process';
import { Empty } from 'google-protobuf/google/protobuf/empty_pb';
import { Struct } from 'google-protobuf/google/protobuf/struct_pb';

/**
 * A small stand-in for the Pulumi engine, enough to run a real program the way
 * `pulumi preview` / `pulumi up` runs it, with no CLI and no cloud:
 *
 * - a ResourceMonitor gRPC server that answers like an engine whose providers
 *   fill in nothing: a resource's outputs are exactly its inputs (so any value
 *   only a provider computes is absent: unknown in preview, undefined in an
 *   update), invokes (data sources) answer from the caller's fake, duplicate
 *   URNs are refused as the engine refuses them;
 * - an Engine gRPC server for logs and the root (stack) resource;
 * - `runProgram`, which starts `@pulumi/pulumi/cmd/run` with the arguments and
 *   environment the Node.js language host gives it (pulumi-language-nodejs
 *   `constructArguments` / `execRuntime`): `--monitor --engine --project
 *   --root-directory --stack --pwd <program dir> [--dry-run] <entry point>`,
 *   PULUMI_CONFIG with `ns:config:key` keys, PULUMI_CONFIG_SECRET_KEYS, and
 *   PULUMI_NODEJS_TYPESCRIPT / PULUMI_NODEJS_TSCONFIG_PATH from Pulumi.yaml's
 *   runtime options.
 */

export interface Registration {
  urn: string;
  type: string;
  name: string;
  parent?: string;
  custom: boolean;
  inputs: Record<string, unknown>;
}

export interface EngineLog {
  severity: 'debug' | 'info' | 'warning' | 'error';
  message: string;
  urn: string;
}

export interface FakeEngine {
  address: string;
  registrations: Registration[];
  /** Outputs registered per URN (components' registerOutputs, the stack's exports). */
  outputs: Map<string, Record<string, unknown>>;
  invokes: Array<{ token: string; args: Record<string, unknown> }>;
  logs: EngineLog[];
  /** URNs registered twice: refused with ALREADY_EXISTS, as the engine does. */
  duplicates: string[];
  rootUrn(): string | undefined;
  close(): Promise<void>;
}

export interface FakeEngineOptions {
  project: string;
  stack: string;
  /** Answers for invokes (data sources); `{}` when absent. */
  invokeResult?: (token: string, args: Record<string, unknown>) => Record<string, unknown>;
  /**
   * Stacks a `pulumi.StackReference` may read, by fully qualified name →
   * their outputs as another run registered them (secrets still wrapped):
   * the engine's ReadResource of `pulumi:pulumi:StackReference`. Any other
   * read, or an unknown stack, is refused as the engine refuses it.
   */
  stackReferences?: Record<string, Record<string, unknown>>;
}

/** The wire form of a secret (runtime/rpc specialSecretSig), as deserializeProperties keeps it. */
const SECRET_SIG = { key: '4dabf18193072939515e22adb298388d', value: '1b47061264138c4ac30d75fd1eb44270' } as const;
const isWrappedSecret = (v: unknown): boolean => typeof v === 'object' && v !== null && (v as Record<string, unknown>)[SECRET_SIG.key] === SECRET_SIG.value;

const SEVERITY: Record<number, EngineLog['severity']> = {
  [engineproto.LogSeverity.DEBUG]: 'debug',
  [engineproto.LogSeverity.INFO]: 'info',
  [engineproto.LogSeverity.WARNING]: 'warning',
  [engineproto.LogSeverity.ERROR]: 'error',
};

/** Features the 3.248 SDK asks about (runtime/settings.ts awaitFeatureSupport); a current engine supports them all. */
const FEATURES = new Set([
  'secrets',
  'resourceReferences',
  'outputValues',
  'deletedWith',
  'replaceWith',
  'aliasSpecs',
  'transforms',
  'invokeTransforms',
  'parameterization',
  'resourceHooks',
  'errorHooks',
]);

type Unary<Req, Res> = grpc.handleUnaryCall<Req, Res>;

/** The type part of a URN, which for a child is `parentType$type` (the stack itself is left out). */
function qualifiedType(parentUrn: string, rootUrn: string | undefined, type: string): string {
  if (!parentUrn || parentUrn === rootUrn) return type;
  const parentType = parentUrn.split('::')[2];
  return parentType ? `${parentType}$${type}` : type;
}

async function toJs(s: Struct | undefined): Promise<Record<string, unknown>> {
  return s ? ((await deserializeProperties(s)) as Record<string, unknown>) : {};
}

export async function startFakeEngine(opts: FakeEngineOptions): Promise<FakeEngine> {
  const registrations: Registration[] = [];
  const outputs = new Map<string, Record<string, unknown>>();
  const invokes: FakeEngine['invokes'] = [];
  const logs: EngineLog[] = [];
  const duplicates: string[] = [];
  const seen = new Set<string>();
  let root: string | undefined;

  const fail = (cb: (err: grpc.ServiceError | null) => void, code: grpc.status, details: string) =>
    cb(Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() }));

  const registerResource: Unary<resproto.RegisterResourceRequest, resproto.RegisterResourceResponse> = (call, cb) => {
    const req = call.request;
    const type = req.getType();
    const name = req.getName();
    const parent = req.getParent();
    const urn = `urn:pulumi:${opts.stack}::${opts.project}::${qualifiedType(parent, root, type)}::${name}`;
    if (seen.has(urn)) {
      duplicates.push(urn);
      fail(cb, grpc.status.ALREADY_EXISTS, `Duplicate resource URN '${urn}'; try giving it a unique name`);
      return;
    }
    seen.add(urn);
    toJs(req.getObject()).then(
      (inputs) => {
        registrations.push({ urn, type, name, parent: parent || undefined, custom: req.getCustom(), inputs });
        const resp = new resproto.RegisterResourceResponse();
        resp.setUrn(urn);
        // A provider that computes nothing: the state is the inputs, unchanged.
        if (req.getCustom()) resp.setId(`${name}-id`);
        const object = req.getObject();
        if (object) resp.setObject(object);
        cb(null, resp);
      },
      (err: Error) => fail(cb, grpc.status.INVALID_ARGUMENT, `cannot read inputs of ${urn}: ${err.message}`),
    );
  };

  const registerResourceOutputs: Unary<resproto.RegisterResourceOutputsRequest, Empty> = (call, cb) => {
    const urn = call.request.getUrn();
    toJs(call.request.getOutputs()).then(
      (o) => {
        outputs.set(urn, o);
        cb(null, new Empty());
      },
      (err: Error) => fail(cb, grpc.status.INVALID_ARGUMENT, `cannot read outputs of ${urn}: ${err.message}`),
    );
  };

  const invoke: Unary<resproto.ResourceInvokeRequest, providerproto.InvokeResponse> = (call, cb) => {
    const token = call.request.getTok();
    toJs(call.request.getArgs()).then(
      (args) => {
        invokes.push({ token, args });
        const resp = new providerproto.InvokeResponse();
        resp.setReturn(Struct.fromJavaScript((opts.invokeResult?.(token, args) ?? {}) as Parameters<typeof Struct.fromJavaScript>[0]));
        cb(null, resp);
      },
      (err: Error) => fail(cb, grpc.status.INVALID_ARGUMENT, `cannot read args of ${token}: ${err.message}`),
    );
  };

  const readResource: Unary<resproto.ReadResourceRequest, resproto.ReadResourceResponse> = (call, cb) => {
    const req = call.request;
    const type = req.getType();
    const id = req.getId();
    const known = opts.stackReferences?.[id];
    if (type !== 'pulumi:pulumi:StackReference' || !known) {
      fail(cb, grpc.status.NOT_FOUND, type === 'pulumi:pulumi:StackReference' ? `unknown stack "${id}"` : `this stand-in engine reads no ${type}`);
      return;
    }
    const urn = `urn:pulumi:${opts.stack}::${opts.project}::${qualifiedType(req.getParent(), root, type)}::${req.getName()}`;
    registrations.push({ urn, type, name: req.getName(), parent: req.getParent() || undefined, custom: true, inputs: { name: id } });
    const secretOutputNames = Object.entries(known)
      .filter(([, v]) => isWrappedSecret(v))
      .map(([k]) => k);
    const resp = new resproto.ReadResourceResponse();
    resp.setUrn(urn);
    resp.setProperties(Struct.fromJavaScript({ name: id, outputs: known, secretOutputNames } as Parameters<typeof Struct.fromJavaScript>[0]));
    cb(null, resp);
  };

  const supportsFeature: Unary<resproto.SupportsFeatureRequest, resproto.SupportsFeatureResponse> = (call, cb) => {
    cb(null, new resproto.SupportsFeatureResponse().setHassupport(FEATURES.has(call.request.getId())));
  };

  const server = new grpc.Server();
  server.addService(resrpc.ResourceMonitorService, {
    supportsFeature,
    registerResource,
    registerResourceOutputs,
    readResource,
    invoke,
    signalAndWaitForShutdown: ((_call, cb) => cb(null, new Empty())) as Unary<Empty, Empty>,
    registerPackage: ((call, cb) => cb(null, new resproto.RegisterPackageResponse().setRef(`${call.request.getName()}-ref`))) as Unary<
      resproto.RegisterPackageRequest,
      resproto.RegisterPackageResponse
    >,
  });
  server.addService(enginerpc.EngineService, {
    log: ((call, cb) => {
      const r = call.request;
      logs.push({ severity: SEVERITY[r.getSeverity()] ?? 'info', message: r.getMessage(), urn: r.getUrn() });
      cb(null, new Empty());
    }) as Unary<engineproto.LogRequest, Empty>,
    getRootResource: ((_call, cb) => cb(null, new engineproto.GetRootResourceResponse().setUrn(root ?? ''))) as Unary<
      engineproto.GetRootResourceRequest,
      engineproto.GetRootResourceResponse
    >,
    setRootResource: ((call, cb) => {
      root = call.request.getUrn();
      cb(null, new engineproto.SetRootResourceResponse());
    }) as Unary<engineproto.SetRootResourceRequest, engineproto.SetRootResourceResponse>,
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    registrations,
    outputs,
    invokes,
    logs,
    duplicates,
    rootUrn: () => root,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

export interface RunProgramOptions {
  engine: FakeEngine;
  project: string;
  stack: string;
  /** The project root (Pulumi.yaml's folder). */
  rootDirectory: string;
  /** The engine's program directory: the folder of Pulumi.yaml's `main`. */
  programDirectory: string;
  /** The engine's entry point: `main`'s file name, or "." for a folder. */
  entryPoint: string;
  dryRun: boolean;
  /** Flat config as the engine holds it: `namespace:key` → string (objects JSON-encoded). */
  config: Record<string, string>;
  secretKeys: string[];
  /** Pulumi.yaml runtime options. */
  typescript: boolean;
  tsconfig?: string;
  /** Extra environment (e.g. PULUMI_NODEJS_TRANSPILE_ONLY). */
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface ProgramRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit. */
  elapsedMs: number;
}

/** The Node.js language host's `constructConfig`: keys become `namespace:config:key`. */
export function languageHostConfig(config: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).map(([k, v]) => {
      const i = k.indexOf(':');
      return [`${k.slice(0, i)}:config:${k.slice(i + 1)}`, v];
    }),
  );
}

export function runProgram(o: RunProgramOptions): Promise<ProgramRun> {
  // The host resolves the run script from the program directory (locateModule → require.resolve).
  const runPath = require.resolve('@pulumi/pulumi/cmd/run', { paths: [o.programDirectory] });
  const args = [
    runPath,
    '--monitor',
    o.engine.address,
    '--engine',
    o.engine.address,
    '--project',
    o.project,
    '--root-directory',
    o.rootDirectory,
    '--stack',
    o.stack,
    '--pwd',
    o.programDirectory,
    ...(o.dryRun ? ['--dry-run'] : []),
    '--parallel',
    '16',
    o.entryPoint,
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PULUMI_CONFIG: JSON.stringify(languageHostConfig(o.config)),
    PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(o.secretKeys),
    ...(o.typescript ? { PULUMI_NODEJS_TYPESCRIPT: 'true' } : {}),
    ...(o.tsconfig ? { PULUMI_NODEJS_TSCONFIG_PATH: o.tsconfig } : {}),
    ...o.env,
  };
  // Nothing from the test runner's own module hooks (vitest, tsx) may leak into the program.
  delete env.NODE_OPTIONS;
  delete env.VITEST;
  delete env.VITEST_POOL_ID;
  delete env.VITEST_WORKER_ID;
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: o.programDirectory, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
}
