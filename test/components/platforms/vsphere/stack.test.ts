import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { vsphereMockInvokes } from '../../../../components/platforms/vsphere/mocks';
import { isSecretValue, unwrapSecrets } from '../../../../components/offline/capture';
import { SECRET_PLACEHOLDER, readStackConfig, withOfflineCredentials } from '../../../../cli/preview/stack-config';
import { stackProgram } from '../../../../stacks/program';
import { installVsphereCapture } from './harness';
import { checkInvoke, checkResource, loadSchema } from './schema-check';

/** The shipped stack file runs end to end under mocks (what `npm run preview -- --stack ha-vsphere` does). */
// Credentials are not in the stack file (config set --secret / ESC): the preview's offline placeholders stand in.
const stackConfig = withOfflineCredentials(readStackConfig(join(__dirname, '../../../../stacks'), 'ha-vsphere'));
// Switchable so one run can use only the generic `{ id }` invoke results the preview falls back to.
let invokeResult: (token: string, args: Record<string, unknown>) => Record<string, unknown> = (t, a) => vsphereMockInvokes(t, a) ?? {};
const harness = installVsphereCapture(stackConfig.config, { stack: 'ha-vsphere', secretKeys: stackConfig.secretKeys, invokeResult: (t, a) => invokeResult(t, a) });

let cap: Awaited<ReturnType<typeof harness.run>>;
beforeAll(async () => {
  cap = await harness.run(() => stackProgram());
});

const VM = 'vsphere:index/virtualMachine:VirtualMachine';

describe('stacks/Pulumi.ha-vsphere.yaml', () => {
  it('keeps the vCenter password a secret and the user plain', () => {
    expect(stackConfig.secretKeys).toContain('vsphere:password');
    expect(stackConfig.secretKeys).not.toContain('vsphere:user');
    expect(stackConfig.config['vsphere:user']).toBe('svc-mailfleet@vsphere.local');
    const provider = cap.resources.find((r) => r.type === 'pulumi:providers:vsphere')!;
    expect(isSecretValue(provider.inputs.password)).toBe(true);
    expect(unwrapSecrets(provider.inputs)).toMatchObject({ password: SECRET_PLACEHOLDER, user: 'svc-mailfleet@vsphere.local', vsphereServer: 'vcenter.example.com', allowUnverifiedSsl: 'false' });
  });

  it('deploys a production HA cluster: >= 2 of every role, a DRS rule per role, VIP endpoints', () => {
    expect(cap.duplicates).toEqual([]);
    const vms = cap.resources.filter((r) => r.type === VM);
    for (const role of ['hub', 'node', 'gateway', 'proxy', 'lb']) {
      // Members only: `mail-vs-gateway-appliance-0` is the appliance VM beside the gateways.
      const members = vms.filter((v) => new RegExp(`^mail-vs-${role}-\\d+$`).test(v.name));
      expect(members.length, role).toBeGreaterThanOrEqual(2);
      const rule = cap.resources.find((r) => r.name === `mail-vs-${role}-anti-affinity`);
      expect((unwrapSecrets(rule?.inputs.virtualMachineIds) as string[]).length, role).toBe(members.length);
    }
    expect(vms.filter((v) => v.name === 'mail-vs-gateway-appliance-0')).toHaveLength(1);
    expect(cap.outputs.endpoints).toMatchObject({ imaps: '10.60.0.8:993', smtp: '10.60.0.8:25' });
    expect(String(cap.outputs.storage)).toMatch(/^nfs 10\.60\.0\.5:\/export\/mail/);
  });

  it('conforms to the provider schema', () => {
    const schema = loadSchema();
    const problems = [
      ...cap.resources.filter((r) => r.type.includes('vsphere')).flatMap((r) => checkResource(schema, r.type, r.inputs, r.name)),
      ...cap.invokes.flatMap((i) => checkInvoke(schema, i.token, i.args)),
    ];
    expect(problems).toEqual([]);
  });

  it('still builds when data sources return only an id (the generic preview fallback)', async () => {
    invokeResult = (token, args) => ({ id: `${token.split(':').pop()}-${String(args.name ?? 'default')}` });
    try {
      const bare = await harness.run(() => stackProgram());
      expect(bare.duplicates).toEqual([]);
      expect(bare.resources.filter((r) => r.type === VM)).toHaveLength(11 + 1); // members, HAProxy VMs, the appliance VM
      expect(bare.outputs.endpoints).toMatchObject({ imaps: '10.60.0.8:993' });
    } finally {
      invokeResult = (t, a) => vsphereMockInvokes(t, a) ?? {};
    }
  });
});
