import * as pulumi from '@pulumi/pulumi';
import { deserializeProperties } from '@pulumi/pulumi/runtime/rpc';

/**
 * Runs a Pulumi program offline under `pulumi.runtime.setMocks` and records
 * every registered resource with its type, name, parent and inputs. Used by
 * `npm run preview` and by the component tests (DESIGN.md "Verification
 * without a cloud").
 *
 * The mock monitor does not tell mocks who a resource's parent is, so we wrap
 * its registerResource and read the parent URN from the request itself.
 */

/** Pulumi's wire marker for a secret value (sdk/nodejs/runtime/rpc.ts). */
export const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';
export const SPECIAL_SIG_KEY = '4dabf18193072939515e22adb298388d';

export interface CapturedResource {
  urn: string;
  type: string;
  name: string;
  /** URN of the parent, undefined for a root resource. */
  parent?: string;
  custom: boolean;
  /** Inputs as the engine received them; secrets keep Pulumi's wrapper (see isSecretValue). */
  inputs: Record<string, unknown>;
  /**
   * Outputs: for a component, what it passed to registerOutputs; for a custom
   * resource, the mocked provider state (inputs plus faked computed values).
   */
  outputs: Record<string, unknown>;
  /** Resource options that matter to reviewers and policies. */
  options: { provider?: string; dependsOn: string[]; aliases: number; protect: boolean };
}

export interface CapturedInvoke {
  token: string;
  args: Record<string, unknown>;
}

export interface Capture {
  resources: CapturedResource[];
  invokes: CapturedInvoke[];
  /** Stack outputs (when the program returned them). */
  outputs: Record<string, unknown>;
  /** URNs registered more than once: the real engine would reject the program. */
  duplicates: string[];
}

export interface CaptureOptions {
  project?: string;
  stack?: string;
  /** Config as Pulumi keeps it: `namespace:key` → JSON-encoded string or plain string. */
  config?: Record<string, string>;
  /** Config keys that are secrets. */
  secretKeys?: string[];
  /** Extra output state for mocked resources (e.g. IP addresses a platform would assign). */
  outputsFor?: (type: string, name: string, inputs: Record<string, unknown>) => Record<string, unknown>;
  /** Results for invokes (data sources). */
  invokeResult?: (token: string, args: Record<string, unknown>) => Record<string, unknown>;
}

export function isSecretValue(v: unknown): v is { value: unknown } {
  return typeof v === 'object' && v !== null && (v as Record<string, unknown>)[SPECIAL_SIG_KEY] === SECRET_SIG;
}

/** Removes secret wrappers, for asserting on values. */
export function unwrapSecrets(v: unknown): unknown {
  if (isSecretValue(v)) return unwrapSecrets(v.value);
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
  return v;
}

/** Replaces secret values by "[secret]" (for printing). */
export function redactSecrets(v: unknown): unknown {
  if (isSecretValue(v)) return '[secret]';
  if (Array.isArray(v)) return v.map(redactSecrets);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactSecrets(x)]));
  return v;
}

/** Paths (`a.b[0].c`) of every secret inside a value. */
export function secretPaths(v: unknown, prefix = ''): string[] {
  if (isSecretValue(v)) return [prefix || '(value)'];
  if (Array.isArray(v)) return v.flatMap((x, i) => secretPaths(x, `${prefix}[${i}]`));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => secretPaths(x, prefix ? `${prefix}.${k}` : k));
  return [];
}

interface RegisterRequest {
  getObject(): Parameters<typeof deserializeProperties>[0] | undefined;
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getProvider(): string;
  getDependenciesList(): string[];
  getAliasesList(): unknown[];
  getProtect(): boolean | undefined;
}

interface RegisterOutputsRequest {
  getUrn(): string;
  getOutputs(): Parameters<typeof deserializeProperties>[0] | undefined;
}

interface RegisterResponse {
  getUrn(): string;
  getObject(): Parameters<typeof deserializeProperties>[0] | undefined;
}

interface MonitorLike {
  registerResource(req: RegisterRequest, cb: (err: Error | null, resp?: RegisterResponse) => void): unknown;
  registerResourceOutputs(req: RegisterOutputsRequest, cb: (err: Error | null, resp?: unknown) => void): unknown;
}

/**
 * Installs mocks (once per process: the Pulumi runtime is process-global) and
 * returns a function that runs a program and collects what it registered.
 */
export function installCapture(opts: CaptureOptions = {}) {
  const project = opts.project ?? 'mailfleet';
  const stack = opts.stack ?? 'test';
  const resources: CapturedResource[] = [];
  const invokes: CapturedInvoke[] = [];
  let counter = 0;

  void pulumi.runtime.setMocks(
    {
      newResource(args) {
        const inputs = args.inputs as Record<string, unknown>;
        const extra = opts.outputsFor?.(args.type, args.name, inputs) ?? {};
        return { id: `${args.name}-id`, state: { ...inputs, ...extra } };
      },
      call(args) {
        const a = args.inputs as Record<string, unknown>;
        invokes.push({ token: args.token, args: a });
        return opts.invokeResult?.(args.token, a) ?? { id: `${args.token.split(':').pop()}-${++counter}` };
      },
    },
    project,
    stack,
    false,
  );
  if (opts.config) pulumi.runtime.setAllConfig(opts.config, opts.secretKeys);

  // Wrap the mock monitor to learn parents and options, which mocks are not told.
  const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
  const original = monitor.registerResource.bind(monitor);
  const urns: string[] = [];
  monitor.registerResource = (req, cb) => {
    const object = req.getObject();
    const inputs = (object ? deserializeProperties(object) : {}) as Record<string, unknown>;
    return original(req, (err, resp) => {
      if (!err && resp) {
        const urn = resp.getUrn();
        urns.push(urn);
        resources.push({
          urn,
          type: req.getType(),
          name: req.getName(),
          parent: req.getParent() || undefined,
          custom: req.getCustom(),
          inputs,
          outputs: (() => {
            const state = resp.getObject();
            return (state ? deserializeProperties(state) : {}) as Record<string, unknown>;
          })(),
          options: {
            provider: req.getProvider() || undefined,
            dependsOn: req.getDependenciesList(),
            aliases: req.getAliasesList().length,
            protect: req.getProtect() ?? false,
          },
        });
      }
      cb(err, resp);
    });
  };

  const originalOutputs = monitor.registerResourceOutputs.bind(monitor);
  monitor.registerResourceOutputs = (req, cb) => {
    const object = req.getOutputs();
    const outputs = (object ? deserializeProperties(object) : {}) as Record<string, unknown>;
    const urn = req.getUrn();
    return originalOutputs(req, (err, resp) => {
      if (!err) {
        const r = resources.find((x) => x.urn === urn);
        if (r) r.outputs = outputs;
      }
      cb(err, resp);
    });
  };

  return async function run(program: () => unknown): Promise<Capture> {
    // Each run reports only what it registered (several runs may share a process).
    resources.length = 0;
    invokes.length = 0;
    urns.length = 0;
    const result = await program();
    // Nothing is registered synchronously: wait for every outstanding RPC.
    await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
    const counts = new Map<string, number>();
    for (const urn of urns) counts.set(urn, (counts.get(urn) ?? 0) + 1);
    const duplicates = [...counts].filter(([, n]) => n > 1).map(([urn]) => urn);
    const outputs = result && typeof result === 'object' ? await resolveOutputs(result as Record<string, unknown>) : {};
    return { resources: [...resources], invokes: [...invokes], outputs, duplicates };
  };
}

async function resolveOutputs(obj: Record<string, unknown>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (pulumi.Output.isInstance(v)) {
      const secret = await pulumi.isSecret(v as pulumi.Output<unknown>);
      const value = await new Promise<unknown>((resolve) => (v as pulumi.Output<unknown>).apply((x) => resolve(x)));
      out[k] = secret ? { [SPECIAL_SIG_KEY]: SECRET_SIG, value } : value;
    } else out[k] = v;
  }
  return out;
}
