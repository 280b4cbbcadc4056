import * as pulumi from '@pulumi/pulumi';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStackConfig } from '../../cli/preview/stack-config';
import { installCapture, platformInvokeResult, type Capture } from '../../components';
import { memberUserData } from '../../components/cloud-init';
import { whenComputed } from '../../components/computed';
import { renderRuntimeConfigs } from '../../components/render';
import { parseClusterSpec } from '../../components/spec';
import { stackProgram } from '../../stacks/program';

/**
 * Regression for issue 10: a program must not assume that values a provider
 * computes exist. Under mocks that return only the inputs (`preview: false`),
 * the Proxmox program threw `Cannot read properties of undefined (reading
 * 'slice')` on the VRRP RandomPassword's `result`, and then (like vSphere)
 * `no clusterToken was given` rendering member user data from the generated
 * cluster token. Both happened inside `apply`, where an exception does not
 * fail the program but leaves it hanging. Now such renders wait for the value
 * (components/computed.ts): the program runs to the end, and nothing is
 * rendered from a missing value.
 *
 * In-process, under @pulumi/pulumi's own mocks (test/stacks/program.test.ts
 * runs the same through cmd/run and a gRPC engine).
 */

const STACKS_DIR = join(__dirname, '..', '..', 'stacks');

/** Whether an Output is known (internal to the SDK, stable in 3.248). */
function isKnown(o: pulumi.Output<unknown>): Promise<boolean> {
  return (o as unknown as { isKnown: Promise<boolean> }).isKnown;
}

function value<T>(o: pulumi.Output<T>): Promise<T> {
  return (o as unknown as { promise(): Promise<T> }).promise();
}

/** Every string anywhere in a value. */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v && typeof v === 'object') return Object.values(v).flatMap(strings);
  return [];
}

const rejections: unknown[] = [];
const onRejection = (r: unknown) => rejections.push(r);
beforeAll(() => {
  process.on('unhandledRejection', onRejection);
});
afterAll(() => {
  process.off('unhandledRejection', onRejection);
});

/** Runs a shipped stack with mocks whose resources return exactly their inputs. */
async function runInputsOnly(stack: string): Promise<Capture> {
  const file = readStackConfig(STACKS_DIR, stack);
  const run = installCapture({
    project: 'mailfleet',
    stack,
    // Credentials come from `pulumi config set --secret` / ESC, not the stack file.
    config: { ...file.config, 'proxmoxve:apiToken': 'mailfleet@pve!test=00000000', 'vsphere:password': 'test-password' },
    secretKeys: [...file.secretKeys, 'proxmoxve:apiToken', 'vsphere:password'],
    outputsFor: () => ({}),
    invokeResult: platformInvokeResult,
  });
  return run(() => stackProgram());
}

describe('whenComputed', () => {
  beforeAll(() => {
    void pulumi.runtime.setMocks({ newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }), call: (a) => a.inputs }, 'mailfleet', 'unit', false);
  });

  it('renders a value the provider filled in', async () => {
    const out = whenComputed(pulumi.output('s3cret'), (p) => `auth_pass ${p}\n`);
    expect(await isKnown(out)).toBe(true);
    expect(await value(out)).toBe('auth_pass s3cret\n');
  });

  it('leaves the result unknown, without calling render, while the value is missing', async () => {
    let calls = 0;
    const out = whenComputed(pulumi.output<string | undefined>(undefined), (p) => {
      calls++;
      return `auth_pass ${p}\n`;
    });
    expect(await isKnown(out)).toBe(false);
    expect(calls).toBe(0);
  });

  it('member user data waits for a generated secret instead of throwing inside apply', async () => {
    const spec = parseClusterSpec({
      name: 'demo',
      platform: { kind: 'docker' },
      domains: [{ name: 'example.com' }],
      storage: { kind: 'docker-volume', sizeGiB: 10 },
    });
    const member = renderRuntimeConfigs(spec).find((m) => m.role === 'node')!;
    const out = memberUserData({
      member,
      storage: { server: '10.0.0.5', path: '/export/mail', options: 'nfs4,hard' },
      runtime: { packageUrl: 'https://registry.npmjs.org/mailfleet/-/mailfleet-0.1.0.tgz', sha256: undefined, nodeMajor: 20 },
      secrets: {
        tlsCertPem: '-----BEGIN CERTIFICATE-----\n...',
        tlsKeyPem: pulumi.secret('-----BEGIN PRIVATE KEY-----\n...'),
        internalCaPem: '-----BEGIN CERTIFICATE-----\n...',
        nodeInternalCertPem: '-----BEGIN CERTIFICATE-----\n...',
        nodeInternalKeyPem: pulumi.secret('-----BEGIN PRIVATE KEY-----\n...'),
        // What RandomPassword.result is when the provider has filled in nothing.
        clusterToken: pulumi.output<string | undefined>(undefined) as pulumi.Output<string>,
      },
    });
    expect(await isKnown(out)).toBe(false);
    expect(await pulumi.isSecret(out)).toBe(true);
  });
});

describe.each(['ha-proxmox', 'ha-vsphere'])('%s under mocks that return only the inputs', (stack) => {
  let capture: Capture;
  beforeAll(async () => {
    rejections.length = 0;
    capture = await runInputsOnly(stack);
  }, 60_000);

  it('runs to the end: no exception inside apply, no duplicate URN', () => {
    expect(rejections.map((r) => (r instanceof Error ? r.message : String(r)))).toEqual([]);
    expect(capture.duplicates).toEqual([]);
  });

  it('still registers the load balancers with their (not yet rendered) user data', () => {
    const lbs = capture.resources.filter((r) => r.custom && /-lb-\d+$/.test(r.name));
    expect(lbs.length).toBeGreaterThanOrEqual(2);
  });

  it('renders nothing from a missing value (no "undefined" in any input)', () => {
    const offending = capture.resources.flatMap((r) => strings(r.inputs).filter((s) => /\bundefined\b/.test(s)).map((s) => `${r.urn}: ${s.slice(0, 120)}`));
    expect(offending).toEqual([]);
  });
});
