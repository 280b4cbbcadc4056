import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import YAML from 'yaml';
import { vsphereMockInvokes, vsphereMockOutputs } from '../../../../components/platforms/vsphere/mocks';
import { installCapture, type Capture, type CaptureOptions } from '../../../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../../../components/offline/mock-outputs';
import type { ClusterSpecInput } from '../../../../components/spec';

export const EXAMPLE = join(__dirname, '..', '..', '..', '..', 'examples', 'specs', 'vsphere-ha.yaml');

export function exampleSpec(): ClusterSpecInput {
  return YAML.parse(readFileSync(EXAMPLE, 'utf8')) as ClusterSpecInput;
}

/** The stack config keys a stack program reads the vCenter credentials from. */
export const CREDENTIALS = {
  'vsphere:user': 'svc-mailfleet@vsphere.local',
  'vsphere:password': 'vc-password-do-not-leak',
};

/** The same credentials as MailClusterArgs.credentials (what the stack program passes; components read no config). */
export const VSPHERE_CREDENTIALS = { vsphere: { user: CREDENTIALS['vsphere:user'], password: CREDENTIALS['vsphere:password'] } };

interface VersionedRequest {
  getVersion(): string;
  getTok?(): string;
}
interface Monitor {
  registerResource(req: VersionedRequest, cb: (err: Error | null, resp?: { getUrn(): string }) => void): unknown;
  invoke(req: VersionedRequest & { getTok(): string }, cb: (err: Error | null, resp?: unknown) => void): unknown;
}

/**
 * installCapture plus what it does not record: the `version` option of each
 * registration and invoke (the plugin the engine would load). Call once per
 * test file, before importing modules that create resources.
 */
export function installVsphereCapture(config: Record<string, string> | undefined = undefined, extra: Partial<CaptureOptions> = {}) {
  const run = installCapture({
    config,
    secretKeys: config && 'vsphere:password' in config ? ['vsphere:password'] : [],
    outputsFor: composeMockOutputs(commonMockOutputs, vsphereMockOutputs),
    invokeResult: (token, args) => vsphereMockInvokes(token, args) ?? {},
    ...extra,
  });
  const resourceVersions = new Map<string, string>();
  const invokeVersions: { token: string; version: string }[] = [];
  const monitor = pulumi.runtime.getMonitor() as unknown as Monitor;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) =>
    register(req, (err, resp) => {
      if (!err && resp) resourceVersions.set(resp.getUrn(), req.getVersion());
      cb(err, resp);
    });
  const invoke = monitor.invoke.bind(monitor);
  monitor.invoke = (req, cb) => {
    invokeVersions.push({ token: req.getTok(), version: req.getVersion() });
    return invoke(req, cb);
  };
  return {
    async run(program: () => unknown): Promise<Capture & { versions: Map<string, string>; invokeVersions: typeof invokeVersions }> {
      resourceVersions.clear();
      invokeVersions.length = 0;
      const cap = await run(program);
      return { ...cap, versions: new Map(resourceVersions), invokeVersions: [...invokeVersions] };
    },
  };
}
