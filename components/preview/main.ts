import { Command, CommanderError } from 'commander';
import { join } from 'node:path';
import { stackProgram } from '../../stacks/program';
import { platformInvokeResult, platformMockOutputs } from '../platforms/mocks';
import { installCapture, redactSecrets, type Capture, type CapturedResource } from './capture';
import { commonMockOutputs, composeMockOutputs } from './mock-outputs';
import { StackConfigFileError, readStackConfig } from './stack-config';
import { renderTree } from './tree';

/**
 * `npm run preview -- --stack NAME [--json]`: runs a stack program offline
 * (under Pulumi mocks, with the stack's config file) and prints the resource
 * tree, or a JSON report for pipelines. Exit 1 when the config is invalid or
 * the program fails; 2 for a usage error.
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
}

export interface PreviewIo {
  out(s: string): void;
  err(s: string): void;
}

export interface PreviewOptions {
  stack: string;
  json?: boolean;
  stacksDir?: string;
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
  const mocks = { outputsFor: composeMockOutputs(commonMockOutputs, platformMockOutputs), invokeResult: platformInvokeResult };
  const run = installCapture({
    project: 'mailfleet',
    stack: opts.stack,
    config: stackConfig.config,
    secretKeys: stackConfig.secretKeys,
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
  };

  if (opts.json) {
    io.out(`${JSON.stringify(report, null, 2)}\n`);
  } else if (failure) {
    io.err(`preview of stack "${opts.stack}" failed:\n${failure}\n`);
  } else {
    io.out(`Previewing stack "${opts.stack}" offline (${stackConfig.file}, mocked providers)\n\n`);
    io.out(renderTree(resources));
    io.out(`\n${resources.length} resources: ${Object.entries(counts).map(([t, n]) => `${n} × ${t}`).join(', ')}\n`);
  }
  return failure ? 1 : 0;
}

export async function main(argv: readonly string[], io: PreviewIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }): Promise<number> {
  const program = new Command('preview')
    .description('run a stack program offline and print its resource tree')
    .requiredOption('-s, --stack <name>', 'stack name: reads stacks/Pulumi.<name>.yaml')
    .option('--json', 'print a machine-readable report')
    .option('--stacks-dir <dir>', 'folder with the Pulumi.<stack>.yaml files')
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride();
  try {
    program.parse([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  const o = program.opts<{ stack: string; json?: boolean; stacksDir?: string }>();
  return runPreview({ stack: o.stack, json: o.json, stacksDir: o.stacksDir }, io);
}
