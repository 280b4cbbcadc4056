import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { installCapture, isSecretValue, type Capture } from '../../../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../../../components/offline/mock-outputs';
import { readStackConfig, withOfflineCredentials } from '../../../../cli/preview/stack-config';
import { proxmoxMockOutputs } from '../../../../components/platforms/proxmox/mocks';
import { stackProgram } from '../../../../stacks/program';

/** The shipped stack file runs end to end under mocks (what `npm run preview -- --stack ha-proxmox` does). */
// Credentials are not in the stack file (config set --secret / ESC): the preview's offline placeholders stand in.
const stackConfig = withOfflineCredentials(readStackConfig(join(__dirname, '../../../../stacks'), 'ha-proxmox'));
const run = installCapture({
  stack: 'ha-proxmox',
  config: stackConfig.config,
  secretKeys: stackConfig.secretKeys,
  outputsFor: composeMockOutputs(commonMockOutputs, proxmoxMockOutputs),
});

let cap: Capture;
beforeAll(async () => {
  cap = await run(() => stackProgram());
});

describe('stacks/Pulumi.ha-proxmox.yaml', () => {
  it('keeps the provider credential as a secret', () => {
    expect(stackConfig.secretKeys).toContain('proxmoxve:apiToken');
    const provider = cap.resources.find((r) => r.type === 'pulumi:providers:proxmoxve')!;
    expect(isSecretValue(provider.inputs.apiToken)).toBe(true);
  });

  it('deploys a production HA cluster: >= 2 of every role, 3 hosts, HA for every VM, VIP endpoints', () => {
    expect(cap.duplicates).toEqual([]);
    const vms = cap.resources.filter((r) => r.type === 'proxmoxve:index/vmLegacy:VmLegacy');
    for (const role of ['hub', 'node', 'gateway', 'proxy', 'lb']) {
      expect(vms.filter((v) => v.name.startsWith(`mail-px-${role}-`)).length, role).toBeGreaterThanOrEqual(2);
    }
    expect(new Set(vms.map((v) => v.inputs.nodeName))).toEqual(new Set(['pve1', 'pve2', 'pve3']));
    expect(cap.resources.filter((r) => r.type === 'proxmoxve:index/haresource:Haresource')).toHaveLength(vms.length);
    expect(cap.outputs.endpoints).toMatchObject({ imaps: '10.40.0.8:993', smtp: '10.40.0.8:25' });
    expect(String(cap.outputs.storage)).toMatch(/^nfs 10\.40\.0\.5:\/export\/mail .*backup 0 2 \* \* \*/);
  });
});
