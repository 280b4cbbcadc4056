import type { Policy, ResourceValidationPolicy, StackValidationPolicy } from '@pulumi/policy';
import * as pulumi from '@pulumi/pulumi';
import * as analyzer from '@pulumi/pulumi/proto/analyzer_pb';
import { Struct } from 'google-protobuf/google/protobuf/struct_pb';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { POLICY_PACK_NAME, POLICY_PACK_VERSION, policies as mailfleetPolicies } from '../../policies/policies';
import { provideSecretness } from '../../policies/lib/secretness';
import { SPECIAL_SIG_KEY, secretPaths, type CapturedResource } from '../../components';

/**
 * Runs the policy pack on a captured program, offline: the same analyzer
 * code `pulumi preview --policy-pack policies` runs (@pulumi/policy's
 * `makeAnalyzeRpcFun` / `makeAnalyzeStackRpcFun`, internal but stable in the
 * pinned 1.21.0), fed with analyzer requests built from the captured
 * resources. So type filters, enforcement levels, secret unwrapping, unknown
 * values and `notApplicable` behave as under the CLI.
 *
 * - Resource policies get each resource's inputs (what the engine analyzes
 *   before a step); stack policies get every resource's outputs (a custom
 *   resource's mocked state, a component's registered outputs), parents and
 *   dependencies.
 * - Per-stack configuration is Pulumi's policy config file format:
 *   `{ "<policy>": "advisory" }` or `{ "<policy>": { "enforcementLevel": "disabled", "<knob>": ... } }`,
 *   plus `"all"` for every policy. Knobs are checked against each policy's
 *   configSchema (unknown names and wrong types are errors) and its defaults
 *   filled in, like the CLI does.
 * - Secretness is known here (the capture keeps Pulumi's secret markers) but
 *   not to CrossGuard policies; it is handed to the rules that need it
 *   through policies/lib/secretness.ts for the duration of the run.
 */

export type EnforcementLevel = 'advisory' | 'mandatory' | 'remediate' | 'disabled';
const LEVELS = ['advisory', 'mandatory', 'remediate', 'disabled'] as const;

export interface PolicyResult {
  policyName: string;
  /** A violation of a mandatory policy fails the gate; advisory ones are reported only. */
  enforcementLevel: 'advisory' | 'mandatory';
  /** The resource in violation (the stack's URN for a finding about the whole stack). */
  urn: string;
  /** What is wrong and what to change. */
  message: string;
  /** The policy's own description. */
  description: string;
}

export interface PolicyRun {
  results: PolicyResult[];
  /** Policies that ran (not disabled). */
  evaluated: string[];
  disabled: string[];
  /** Policies that said they do not apply, with the reason. */
  notApplicable: Array<{ policyName: string; reason: string }>;
}

/** One policy's entry in a policy config file. */
export type PolicyConfigEntry = EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>);
export type PolicyPackConfig = Record<string, PolicyConfigEntry>;

export class PolicyConfigError extends Error {}

const Level = z.enum(LEVELS);
const Entry = z.union([Level, z.object({ enforcementLevel: Level.optional() }).catchall(z.unknown())]);
const ConfigFile = z.record(z.string(), Entry);

type AnyPolicy = ResourceValidationPolicy | StackValidationPolicy;

function isStackPolicy(p: Policy): p is StackValidationPolicy {
  return typeof (p as StackValidationPolicy).validateStack === 'function';
}

function isResourcePolicy(p: Policy): p is ResourceValidationPolicy {
  const v = (p as ResourceValidationPolicy).validateResource;
  return typeof v === 'function' || Array.isArray(v);
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/**
 * Checks a policy config (parsed JSON) against the pack: known policy names,
 * valid levels, knobs the policy declares with the declared JSON types.
 * Throws PolicyConfigError listing every problem.
 */
export function validatePolicyConfig(raw: unknown, policies: readonly Policy[] = mailfleetPolicies): PolicyPackConfig {
  const parsed = ConfigFile.safeParse(raw);
  if (!parsed.success) {
    throw new PolicyConfigError(
      `policy config must map policy names to an enforcement level (${LEVELS.join(', ')}) or to { "enforcementLevel": ..., <settings> }:\n${parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(top level)'}: ${i.message}`).join('\n')}`,
    );
  }
  const byName = new Map(policies.map((p) => [p.name, p]));
  const problems: string[] = [];
  for (const [name, entry] of Object.entries(parsed.data)) {
    if (name === 'all') {
      if (typeof entry === 'object' && Object.keys(entry).some((k) => k !== 'enforcementLevel')) problems.push('all: only enforcementLevel may be set for every policy');
      continue;
    }
    const p = byName.get(name);
    if (!p) {
      problems.push(`${name}: no such policy in the pack (policies: ${[...byName.keys()].join(', ')})`);
      continue;
    }
    if (typeof entry !== 'object') continue;
    const props = p.configSchema?.properties ?? {};
    for (const [knob, value] of Object.entries(entry)) {
      if (knob === 'enforcementLevel') continue;
      const schema = props[knob] as { type?: string | string[] } | undefined;
      if (!schema) {
        problems.push(`${name}.${knob}: unknown setting${Object.keys(props).length ? ` (settings: ${Object.keys(props).join(', ')})` : ' (this policy has none)'}`);
        continue;
      }
      const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
      const actual = jsonType(value);
      if (types.length > 0 && !types.includes(actual) && !(actual === 'integer' && types.includes('number'))) {
        problems.push(`${name}.${knob}: must be ${types.join(' or ')} (got ${actual})`);
      }
    }
    for (const req of p.configSchema?.required ?? []) {
      if (!(req in entry)) problems.push(`${name}.${req}: required`);
    }
  }
  if (problems.length > 0) throw new PolicyConfigError(`policy config is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return parsed.data as PolicyPackConfig;
}

/** Reads and validates a policy config JSON file. */
export function loadPolicyConfig(file: string, policies: readonly Policy[] = mailfleetPolicies): PolicyPackConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PolicyConfigError(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `not valid JSON: ${(err as Error).message}`}`);
  }
  try {
    return validatePolicyConfig(raw, policies);
  } catch (err) {
    if (err instanceof PolicyConfigError) throw new PolicyConfigError(`${file}: ${err.message}`);
    throw err;
  }
}

/** The level a policy runs at under `config` (per-policy entry, then `all`, then the policy's own). */
export function effectiveLevel(p: Policy, config: PolicyPackConfig, packLevel: EnforcementLevel = 'mandatory'): EnforcementLevel {
  const of = (e: PolicyConfigEntry | undefined) => (e === undefined ? undefined : typeof e === 'string' ? e : e.enforcementLevel);
  return of(config[p.name]) ?? of(config.all) ?? p.enforcementLevel ?? packLevel;
}

/** A policy's settings: schema defaults overlaid with the config entry (enforcementLevel removed). */
export function policySettings(p: Policy, config: PolicyPackConfig): Record<string, unknown> {
  const defaults: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(p.configSchema?.properties ?? {})) {
    const d = (s as { default?: unknown }).default;
    if (d !== undefined) defaults[k] = d;
  }
  const entry = config[p.name];
  const given = typeof entry === 'object' ? Object.fromEntries(Object.entries(entry).filter(([k]) => k !== 'enforcementLevel')) : {};
  return { ...defaults, ...given };
}

// ---------------------------------------------------------------------------
// Analyzer requests from captured resources

type WireValue = null | boolean | number | string | WireValue[] | { [k: string]: WireValue };

const ASSET_SIG = 'c44067f5952c0a294b673a41bacd8c17';
const ARCHIVE_SIG = '0def7320c3a5731c473e5ecbe6d01bc7';

/** Captured values → JSON the analyzer's deserializer reads (secrets keep their wire marker; assets are resolved). */
async function toWire(v: unknown, depth = 0): Promise<WireValue | undefined> {
  if (depth > 64) return null;
  if (v === undefined) return undefined;
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (v instanceof Promise) return toWire(await v, depth + 1);
  if (Array.isArray(v)) {
    const out: WireValue[] = [];
    for (const x of v) out.push((await toWire(x, depth + 1)) ?? null);
    return out;
  }
  if (typeof v === 'object') {
    if (pulumi.asset.Asset.isInstance(v)) {
      const a = v as unknown as { text?: Promise<string>; path?: Promise<string>; uri?: Promise<string> };
      if (a.text !== undefined) return { [SPECIAL_SIG_KEY]: ASSET_SIG, text: await a.text };
      if (a.path !== undefined) return { [SPECIAL_SIG_KEY]: ASSET_SIG, path: await a.path };
      if (a.uri !== undefined) return { [SPECIAL_SIG_KEY]: ASSET_SIG, uri: await a.uri };
      return null;
    }
    if (pulumi.asset.Archive.isInstance(v)) {
      const a = v as unknown as { path?: Promise<string>; uri?: Promise<string> };
      if (a.path !== undefined) return { [SPECIAL_SIG_KEY]: ARCHIVE_SIG, path: await a.path };
      if (a.uri !== undefined) return { [SPECIAL_SIG_KEY]: ARCHIVE_SIG, uri: await a.uri };
      return null; // AssetArchive contents are not needed by any rule
    }
    if (pulumi.Resource.isInstance(v)) {
      // A resource reference: its URN is what a policy can use.
      return toWire(await new Promise<string>((resolve) => (v as pulumi.Resource).urn.apply(resolve)), depth + 1);
    }
    const out: { [k: string]: WireValue } = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const w = await toWire(x, depth + 1);
      if (w !== undefined) out[k] = w;
    }
    return out;
  }
  return null;
}

async function struct(props: Record<string, unknown>): Promise<Struct> {
  const wire = (await toWire(props)) ?? {};
  return Struct.fromJavaScript(wire as Record<string, Parameters<typeof Struct.fromJavaScript>[0][string]>);
}

function options(r: CapturedResource): analyzer.AnalyzerResourceOptions {
  const o = new analyzer.AnalyzerResourceOptions();
  o.setProtect(r.options.protect);
  o.setIgnorechangesList([]);
  o.setAliasesList([]);
  o.setAdditionalsecretoutputsList([]);
  if (r.parent) o.setParent(r.parent);
  return o;
}

/** A provider reference is `<provider urn>::<provider id>`. */
function providerUrn(ref: string | undefined): string | undefined {
  if (!ref) return undefined;
  const i = ref.lastIndexOf('::');
  return i > 0 ? ref.slice(0, i) : ref;
}

async function providerOf(r: CapturedResource, byUrn: Map<string, CapturedResource>, useOutputs: boolean): Promise<analyzer.AnalyzerProviderResource | undefined> {
  const urn = providerUrn(r.options.provider);
  if (!urn) return undefined;
  const p = byUrn.get(urn);
  const out = new analyzer.AnalyzerProviderResource();
  out.setUrn(urn);
  out.setType(p?.type ?? urn.split('::')[2] ?? 'pulumi:providers:unknown');
  out.setName(p?.name ?? urn.split('::').pop() ?? '');
  out.setProperties(await struct(p ? (useOutputs ? p.outputs : p.inputs) : {}));
  return out;
}

/** Outputs a stack policy sees: a component's registered outputs, a custom resource's state. */
function stackProps(r: CapturedResource): Record<string, unknown> {
  return r.outputs && Object.keys(r.outputs).length > 0 ? r.outputs : r.inputs;
}

type RpcFun = (call: { request: unknown }, callback: (err: Error | null | undefined, resp?: analyzer.AnalyzeResponse) => void) => Promise<void> | void;
interface PolicyServerInternals {
  makeAnalyzeRpcFun(name: string, version: string, level: EnforcementLevel, policies: AnyPolicy[]): RpcFun;
  makeAnalyzeStackRpcFun(name: string, version: string, level: EnforcementLevel, policies: AnyPolicy[]): RpcFun;
}

// Internal module of @pulumi/policy (no typings): loaded once, on first use.
let serverModule: PolicyServerInternals | undefined;
function server(): PolicyServerInternals {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- untyped internal module, loaded lazily
  serverModule ??= require('@pulumi/policy/server') as PolicyServerInternals;
  return serverModule;
}

function call(fn: RpcFun, request: unknown): Promise<analyzer.AnalyzeResponse> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null | undefined, resp?: analyzer.AnalyzeResponse) => (err ? reject(err) : resolve(resp ?? new analyzer.AnalyzeResponse()));
    Promise.resolve(fn({ request }, done)).catch(reject);
  });
}

const LEVEL_OF: Record<number, 'advisory' | 'mandatory' | undefined> = {
  [analyzer.EnforcementLevel.ADVISORY]: 'advisory',
  [analyzer.EnforcementLevel.MANDATORY]: 'mandatory',
  // Remediations are not run offline: a remediate-level violation blocks like a mandatory one (as @pulumi/policy reports it).
  [analyzer.EnforcementLevel.REMEDIATE]: 'mandatory',
};

/** Wraps a policy so it runs at `level` and reads `settings` from getConfig (the analyzer's own config comes from the engine, absent here). */
function configured(p: AnyPolicy, level: EnforcementLevel, settings: Record<string, unknown>): AnyPolicy {
  const getConfig = <T extends object>() => ({ ...settings }) as T;
  const typeOf = (f: unknown) => (f as { __pulumiType?: string } | undefined)?.__pulumiType;
  const keepType = <F>(wrapper: F, original: unknown): F => {
    const t = typeOf(original);
    if (t) (wrapper as { __pulumiType?: string }).__pulumiType = t;
    return wrapper;
  };
  const runLevel = level === 'remediate' ? 'mandatory' : level;
  if (isStackPolicy(p)) {
    const validateStack = keepType<StackValidationPolicy['validateStack']>((args, report) => p.validateStack({ ...args, getConfig }, report), p.validateStack);
    return { ...p, enforcementLevel: runLevel, validateStack };
  }
  const validations = Array.isArray(p.validateResource) ? p.validateResource : p.validateResource ? [p.validateResource] : [];
  const wrapped = validations.map((v) => keepType<typeof v>((args, report) => v({ ...args, getConfig }, report), v));
  return { ...p, enforcementLevel: runLevel, validateResource: wrapped.length === 1 ? wrapped[0]! : wrapped };
}

export interface RunPoliciesOptions {
  /** The pack's policies by default. */
  policies?: readonly Policy[];
  project?: string;
  stack?: string;
}

/** Stack URN the engine would use for findings that name no resource. */
export function stackUrn(project: string, stack: string): string {
  return `urn:pulumi:${stack}::${project}::pulumi:pulumi:Stack::${project}-${stack}`;
}

/** Runs the pack on captured resources and returns every finding, plus what ran. */
export async function runPolicyPack(capture: { resources: readonly CapturedResource[] }, config: PolicyPackConfig = {}, opts: RunPoliciesOptions = {}): Promise<PolicyRun> {
  const all = (opts.policies ?? mailfleetPolicies) as readonly AnyPolicy[];
  validatePolicyConfig(config, all);
  const fallbackUrn = stackUrn(opts.project ?? 'mailfleet', opts.stack ?? 'dev');
  const disabled: string[] = [];
  const active: AnyPolicy[] = [];
  for (const p of all) {
    const level = effectiveLevel(p, config);
    if (level === 'disabled') disabled.push(p.name);
    else active.push(configured(p, level, policySettings(p, config)));
  }
  const byUrn = new Map(capture.resources.map((r) => [r.urn, r]));
  const descriptions = new Map(all.map((p) => [p.name, p.description]));
  const results: PolicyResult[] = [];
  const notApplicable: PolicyRun['notApplicable'] = [];
  const collect = (resp: analyzer.AnalyzeResponse, defaultUrn: string) => {
    for (const d of resp.getDiagnosticsList()) {
      const level = LEVEL_OF[d.getEnforcementlevel()];
      if (!level) continue;
      const description = d.getDescription() || descriptions.get(d.getPolicyname()) || '';
      // The analyzer prefixes the policy description to every message; keep the message itself.
      const raw = d.getMessage();
      const message = description && raw.startsWith(`${description}\n`) ? raw.slice(description.length + 1) : raw;
      results.push({ policyName: d.getPolicyname(), enforcementLevel: level, urn: d.getUrn() || defaultUrn, message, description });
    }
    for (const na of resp.getNotApplicableList()) notApplicable.push({ policyName: na.getPolicyName(), reason: na.getReason() });
  };

  const secretness = new Map(capture.resources.map((r) => [r.urn, [...new Set([...secretPaths(r.inputs), ...secretPaths(r.outputs ?? {})])]]));
  const release = provideSecretness((urn) => secretness.get(urn));
  try {
    const resourcePolicies = active.filter(isResourcePolicy);
    if (resourcePolicies.length > 0) {
      const analyze = server().makeAnalyzeRpcFun(POLICY_PACK_NAME, POLICY_PACK_VERSION, 'mandatory', resourcePolicies);
      for (const r of capture.resources) {
        const req = new analyzer.AnalyzeRequest();
        req.setType(r.type);
        req.setUrn(r.urn);
        req.setName(r.name);
        req.setProperties(await struct(r.inputs));
        req.setOptions(options(r));
        const provider = await providerOf(r, byUrn, false);
        if (provider) req.setProvider(provider);
        collect(await call(analyze, req), r.urn);
      }
    }
    const stackPolicies = active.filter(isStackPolicy);
    if (stackPolicies.length > 0) {
      const req = new analyzer.AnalyzeStackRequest();
      const list: analyzer.AnalyzerResource[] = [];
      for (const r of capture.resources) {
        const res = new analyzer.AnalyzerResource();
        res.setType(r.type);
        res.setUrn(r.urn);
        res.setName(r.name);
        res.setProperties(await struct(stackProps(r)));
        res.setOptions(options(r));
        if (r.parent) res.setParent(r.parent);
        res.setDependenciesList([...r.options.dependsOn]);
        const provider = await providerOf(r, byUrn, true);
        if (provider) res.setProvider(provider);
        list.push(res);
      }
      req.setResourcesList(list);
      const analyzeStack = server().makeAnalyzeStackRpcFun(POLICY_PACK_NAME, POLICY_PACK_VERSION, 'mandatory', stackPolicies);
      collect(await call(analyzeStack, req), fallbackUrn);
    }
  } finally {
    release();
  }
  return { results, evaluated: active.map((p) => p.name), disabled, notApplicable };
}

/** Runs the pack on captured resources: every violation, mandatory and advisory. */
export async function runPolicies(capture: { resources: readonly CapturedResource[] }, config: PolicyPackConfig = {}, opts: RunPoliciesOptions = {}): Promise<PolicyResult[]> {
  return (await runPolicyPack(capture, config, opts)).results;
}

/** True when any mandatory policy is violated: the gate fails. */
export function hasMandatoryViolation(results: readonly PolicyResult[]): boolean {
  return results.some((r) => r.enforcementLevel === 'mandatory');
}

/** A readable block of policy findings, for the preview's text output. */
export function renderPolicyResults(run: PolicyRun): string {
  const mandatory = run.results.filter((r) => r.enforcementLevel === 'mandatory').length;
  const advisory = run.results.length - mandatory;
  const lines = [
    `Policy pack ${POLICY_PACK_NAME}@${POLICY_PACK_VERSION}: ${run.evaluated.length} policies evaluated${run.disabled.length ? `, ${run.disabled.length} disabled (${run.disabled.join(', ')})` : ''}`,
  ];
  if (run.results.length === 0) {
    lines.push('  no violations');
  } else {
    for (const r of run.results) {
      lines.push(`  [${r.enforcementLevel}] ${r.policyName}`);
      lines.push(`      resource: ${r.urn}`);
      for (const l of r.message.split('\n')) lines.push(`      ${l}`);
    }
  }
  lines.push(
    mandatory > 0
      ? `${mandatory} mandatory violation(s)${advisory ? `, ${advisory} advisory` : ''}: the preview gate FAILS`
      : `${advisory} advisory violation(s), no mandatory ones: the preview gate passes`,
  );
  return `${lines.join('\n')}\n`;
}
