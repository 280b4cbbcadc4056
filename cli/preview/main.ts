import { Command, CommanderError } from 'commander';
import { join } from 'node:path';
import { stackProgram } from '../../stacks';
import {
  platformInvokeResult,
  platformMockOutputs,
  installCapture,
  isSecretValue,
  redactSecrets,
  unwrapSecrets,
  type Capture,
  type CapturedResource,
  commonMockOutputs,
  composeMockOutputs,
} from '../../components';
import { POLICY_PACK_NAME, POLICY_PACK_VERSION } from '../../policies/policies';
import {
  PolicyConfigError,
  hasMandatoryViolation,
  loadPolicyConfig,
  renderPolicyResults,
  runPolicyPack,
  type PolicyPackConfig,
  type PolicyResult,
  type PolicyRun,
} from './policy-gate';
import { StackConfigFileError, readStackConfig, withOfflineCredentials, type StackConfig } from './stack-config';
import { renderTree } from './tree';

/**
 * `npm run preview -- --stack NAME [--json] [--policy-config FILE]`: runs a
 * stack program offline (under Pulumi mocks, with the stack's config file),
 * prints the resource tree, then runs the policy pack (policies/) on what the
 * program registered and prints every finding; `--json` prints one
 * machine-readable report instead. Exit 1 when the config is invalid, the
 * program fails or a mandatory policy is violated; 2 for a usage error.
 */

export const REPORT_FORMAT = 'mailfleet-preview/1';

export interface PreviewReport {
  format: typeof REPORT_FORMAT;
  project: string;
  stack: string;
  configFile: string;
  ok: boolean;
  error?: string;
  resources: Array<Pick<CapturedResource, 'urn' | 'type' | 'name' | 'parent' | 'custom'> & { inputs: unknown }>;
  counts: Record<string, number>;
  outputs: unknown;
  /** Every policy finding (empty when the program did not run to the end). */
  policies: Array<Pick<PolicyResult, 'policyName' | 'enforcementLevel' | 'urn' | 'message'>>;
  policySummary: PolicySummary;
}

export interface PolicySummary {
  pack: string;
  version: string;
  /** False when the program failed before the policies could run. */
  ran: boolean;
  /** Policy config file given with --policy-config. */
  configFile?: string;
  evaluated: string[];
  disabled: string[];
  mandatory: number;
  advisory: number;
  /** True when no mandatory policy is violated (and the policies ran). */
  passed: boolean;
}

export interface PreviewIo {
  out(s: string): void;
  err(s: string): void;
}

export interface PreviewOptions {
  stack: string;
  json?: boolean;
  stacksDir?: string;
  /** Pulumi policy config file (JSON): per-policy enforcement levels and settings. */
  policyConfig?: string;
}

const repoRoot = join(__dirname, '..', '..');


export async function runPreview(opts: PreviewOptions, io: PreviewIo): Promise<number> {
  const stacksDir = opts.stacksDir ?? join(repoRoot, 'stacks');
  let stackConfig;
  try {
    stackConfig = readStackConfig(stacksDir, opts.stack);
  } catch (err) {
    if (err instanceof StackConfigFileError) {
      io.err(`preview: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  let policyConfig: PolicyPackConfig = {};
  if (opts.policyConfig) {
    try {
      policyConfig = loadPolicyConfig(opts.policyConfig);
    } catch (err) {
      if (err instanceof PolicyConfigError) {
        io.err(`preview: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  }
  const offlineRun = await runStackOffline(stacksDir, stackConfig);
  if (offlineRun.setupError) {
    io.err(`preview: ${offlineRun.setupError}\n`);
    return 1;
  }
  const { capture } = offlineRun;
  let failure = offlineRun.failure;

  let policyRun: PolicyRun | undefined;
  if (!failure && capture) {
    try {
      policyRun = await runPolicyPack(capture, policyConfig, { project: 'mailfleet', stack: opts.stack });
    } catch (err) {
      failure = `policy pack ${POLICY_PACK_NAME} failed to run: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  const results = policyRun?.results ?? [];
  const mandatory = results.filter((r) => r.enforcementLevel === 'mandatory').length;
  const policySummary: PolicySummary = {
    pack: POLICY_PACK_NAME,
    version: POLICY_PACK_VERSION,
    ran: policyRun !== undefined,
    ...(opts.policyConfig ? { configFile: opts.policyConfig } : {}),
    evaluated: policyRun?.evaluated ?? [],
    disabled: policyRun?.disabled ?? [],
    mandatory,
    advisory: results.length - mandatory,
    passed: policyRun !== undefined && !hasMandatoryViolation(results),
  };

  const resources = capture?.resources ?? [];
  const counts: Record<string, number> = {};
  for (const r of resources) counts[r.type] = (counts[r.type] ?? 0) + 1;
  const report: PreviewReport = {
    format: REPORT_FORMAT,
    project: 'mailfleet',
    stack: opts.stack,
    configFile: stackConfig.file,
    ok: !failure,
    ...(failure ? { error: failure } : {}),
    resources: resources.map((r) => ({ urn: r.urn, type: r.type, name: r.name, parent: r.parent, custom: r.custom, inputs: redactSecrets(r.inputs) })),
    counts,
    outputs: redactSecrets(capture?.outputs ?? {}),
    policies: results.map((r) => ({ policyName: r.policyName, enforcementLevel: r.enforcementLevel, urn: r.urn, message: r.message })),
    policySummary,
  };

  if (opts.json) {
    io.out(`${JSON.stringify(report, null, 2)}\n`);
  } else if (failure) {
    io.err(`preview of stack "${opts.stack}" failed:\n${failure}\n`);
  } else {
    io.out(`Previewing stack "${opts.stack}" offline (${stackConfig.file}, mocked providers)\n\n`);
    io.out(renderTree(resources));
    io.out(`\n${resources.length} resources: ${Object.entries(counts).map(([t, n]) => `${n} × ${t}`).join(', ')}\n`);
    if (policyRun) io.out(`\n${renderPolicyResults(policyRun)}`);
  }
  return failure || !policySummary.passed ? 1 : 0;
}

/** One stack program run offline: what it registered, or why it failed (setupError: before the program ran). */
export interface OfflineRun {
  capture?: Capture;
  failure?: string;
  setupError?: string;
}

/**
 * Runs a stack's program under mocks with its config (imported ESC
 * environments included); a standby's StackReference is answered with the
 * primary stack's own offline outputs. What `npm run preview` gates.
 */
export async function runStackOffline(stacksDir: string, stackConfig: StackConfig): Promise<OfflineRun> {
  // Offline: mocked providers never authenticate, so missing credentials get placeholders.
  const offline = withOfflineCredentials(stackConfig);
  // A standby site's StackReference: answered with the outputs the primary's own offline preview produces.
  let referenced: StackReferenceOutputs | undefined;
  const primaryStack = offline.config['mailfleet:primaryStack'];
  if (primaryStack) {
    try {
      referenced = await referencedStackOutputs(stacksDir, primaryStack);
    } catch (err) {
      return { setupError: err instanceof Error ? err.message : String(err) };
    }
  }
  const outputsFor = composeMockOutputs(commonMockOutputs, platformMockOutputs);
  const mocks = {
    outputsFor: (type: string, name: string, inputs: Record<string, unknown>) =>
      type === STACK_REFERENCE && referenced && name === primaryStack ? { name, outputs: referenced.outputs, secretOutputNames: referenced.secretOutputNames } : outputsFor(type, name, inputs),
    invokeResult: platformInvokeResult,
  };
  const run = installCapture({
    project: 'mailfleet',
    stack: stackConfig.stack,
    config: offline.config,
    secretKeys: offline.secretKeys,
    ...mocks,
  });

  // Errors inside the Pulumi runtime surface as unhandled rejections.
  const asyncErrors: Error[] = [];
  const onRejection = (reason: unknown) => asyncErrors.push(reason instanceof Error ? reason : new Error(String(reason)));
  process.on('unhandledRejection', onRejection);
  let capture: Capture | undefined;
  let failure: string | undefined;
  try {
    capture = await run(() => stackProgram());
  } catch (err) {
    failure = err instanceof Error ? err.message : String(err);
  } finally {
    process.off('unhandledRejection', onRejection);
  }
  if (!failure && asyncErrors.length > 0) failure = asyncErrors.map((e) => e.message).join('\n');
  if (!failure && capture && capture.duplicates.length > 0) {
    failure = `duplicate resource URNs (the engine would reject this program):\n${capture.duplicates.map((u) => `  - ${u}`).join('\n')}`;
  }

  return { capture, failure };
}

const STACK_REFERENCE = 'pulumi:pulumi:StackReference';

interface StackReferenceOutputs {
  outputs: Record<string, unknown>;
  secretOutputNames: string[];
}

/**
 * The outputs of the stack a StackReference names (`org/project/stack`):
 * its offline run, from `stacks/Pulumi.<stack>.yaml`. Offline, the secrets
 * in them are placeholders, as everywhere in the preview.
 */
async function referencedStackOutputs(stacksDir: string, qualified: string): Promise<StackReferenceOutputs> {
  const stack = qualified.split('/').pop()!;
  let config;
  try {
    config = withOfflineCredentials(readStackConfig(stacksDir, stack));
  } catch (err) {
    if (err instanceof StackConfigFileError) throw new Error(`the StackReference "${qualified}" names stack "${stack}": ${err.message}`, { cause: err });
    throw err;
  }
  const run = installCapture({
    project: 'mailfleet',
    stack,
    config: config.config,
    secretKeys: config.secretKeys,
    outputsFor: composeMockOutputs(commonMockOutputs, platformMockOutputs),
    invokeResult: platformInvokeResult,
  });
  let capture: Capture;
  try {
    capture = await run(() => stackProgram());
  } catch (err) {
    throw new Error(`the referenced stack "${stack}" failed to run offline: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const secretOutputNames = Object.entries(capture.outputs).filter(([, v]) => isSecretValue(v)).map(([k]) => k);
  return { outputs: unwrapSecrets(capture.outputs) as Record<string, unknown>, secretOutputNames };
}

export async function main(argv: readonly string[], io: PreviewIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Promise<number> {
  const program = new Command('preview')
    .description('run a stack program offline, print its resource tree and run the policy pack on it')
    .requiredOption('-s, --stack <name>', 'stack name: reads stacks/Pulumi.<name>.yaml')
    .option('--json', 'print a machine-readable report')
    .option('--stacks-dir <dir>', 'folder with the Pulumi.<stack>.yaml files')
    .option('--policy-config <file>', 'policy config JSON: per-policy enforcementLevel (mandatory, advisory, disabled) and settings')
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride();
  try {
    program.parse([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  const o = program.opts<{ stack: string; json?: boolean; stacksDir?: string; policyConfig?: string }>();
  return runPreview({ stack: o.stack, json: o.json, stacksDir: o.stacksDir, policyConfig: o.policyConfig }, io);
}
