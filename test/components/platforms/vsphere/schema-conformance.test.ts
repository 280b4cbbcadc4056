import { beforeAll, describe, expect, it } from 'vitest';
import * as binding from '../../../../components/platforms/vsphere/binding';
import { MailCluster } from '../../../../components/mail-cluster';
import { unwrapSecrets } from '../../../../components/offline/capture';
import { VSPHERE_CREDENTIALS, exampleSpec, installVsphereCapture } from './harness';
import { checkInvoke, checkProperties, checkResource, loadSchema, type VsphereSchema } from './schema-check';

/**
 * The hand-written binding against shared/schemas/vsphere-provider.json:
 * statically (every name the binding declares) and dynamically (every
 * resource and invoke the adapter makes for the example HA cluster).
 */

const harness = installVsphereCapture();
const schema: VsphereSchema = loadSchema();
let cap: Awaited<ReturnType<typeof harness.run>>;

const isVsphere = (type: string) => type.startsWith('vsphere:') || type === 'pulumi:providers:vsphere';

beforeAll(async () => {
  cap = await harness.run(() => new MailCluster('mail', { spec: exampleSpec(), credentials: VSPHERE_CREDENTIALS }));
});

describe('binding declarations match the schema', () => {
  it('targets the plugin version the schema describes, with no custom download URL', () => {
    expect(binding.VSPHERE_PLUGIN_VERSION).toBe(schema.providerVersion);
    expect(schema.sourceDetail.pluginDownloadURL).toBeNull();
    expect(schema.plugin.pluginDownloadURLInSchema).toBeNull();
  });

  it('uses type tokens that exist', () => {
    expect(Object.keys(schema.resources)).toContain(binding.VirtualMachine.__pulumiType);
    expect(Object.keys(schema.resources)).toContain(binding.ComputeClusterVmAntiAffinityRule.__pulumiType);
    expect(schema.provider.token).toBe(`pulumi:providers:${binding.VSPHERE_PACKAGE}`);
    for (const token of Object.values(binding.FUNCTION_TOKENS)) expect(Object.keys(schema.functions)).toContain(token);
  });

  const cases: [string, readonly string[], string[], string[]][] = [];
  beforeAll(() => {
    const vm = schema.resources[binding.VirtualMachine.__pulumiType]!;
    const rule = schema.resources[binding.ComputeClusterVmAntiAffinityRule.__pulumiType]!;
    const required = (props: Record<string, { required?: boolean }>) => Object.entries(props).filter(([, p]) => p.required).map(([n]) => n);
    cases.push(['provider inputs', binding.PROVIDER_INPUTS, Object.keys(schema.provider.inputs), required(schema.provider.inputs)]);
    cases.push(['VirtualMachine inputs', binding.VIRTUAL_MACHINE_INPUTS, Object.keys(vm.inputs), required(vm.inputs)]);
    cases.push(['VirtualMachine outputs', binding.VIRTUAL_MACHINE_OUTPUTS, vm.outputs, []]);
    cases.push(['anti-affinity rule inputs', binding.ANTI_AFFINITY_RULE_INPUTS, Object.keys(rule.inputs), required(rule.inputs)]);
    for (const [token, names] of Object.entries({ ...binding.VIRTUAL_MACHINE_TYPES, ...binding.FUNCTION_TYPES })) {
      const t = schema.types[token];
      cases.push([token, names, t ? Object.keys(t.properties) : [], t ? required(t.properties) : []]);
    }
    for (const [token, names] of Object.entries(binding.FUNCTION_NAMES)) {
      const f = schema.functions[token]!;
      cases.push([`${token} inputs`, names.inputs, Object.keys(f.inputs), required(f.inputs)]);
      cases.push([`${token} outputs`, names.outputs, Object.keys(f.outputTypes), []]);
    }
  });

  it('declares only property names the schema has, and every required one', () => {
    expect(cases.length).toBeGreaterThan(10);
    for (const [what, declared, known, required] of cases) {
      expect(known.length, `${what} missing from the schema`).toBeGreaterThan(0);
      expect(declared.filter((n) => !known.includes(n)), what).toEqual([]);
      expect(required.filter((n) => !declared.includes(n)), `${what}: required names the binding leaves out`).toEqual([]);
    }
  });

  it('JSON-stringifies exactly the provider inputs the schema says', () => {
    expect([...binding.PROVIDER_JSON_INPUTS].sort()).toEqual([...schema.provider.jsonStringifiedInputs].sort());
  });
});

describe('what the adapter registers matches the schema', () => {
  it('captured vSphere resources and invokes at all', () => {
    expect(cap.resources.filter((r) => isVsphere(r.type)).length).toBeGreaterThan(10);
    expect(cap.invokes.length).toBe(5);
  });

  it('every resource: token known, inputs known (recursively), required inputs present, types right', () => {
    const problems = cap.resources.filter((r) => isVsphere(r.type)).flatMap((r) => checkResource(schema, r.type, r.inputs, r.name));
    expect(problems).toEqual([]);
  });

  it('every invoke: token known, inputs known, required inputs present', () => {
    expect(new Set(cap.invokes.map((i) => i.token))).toEqual(new Set(Object.values(binding.FUNCTION_TOKENS)));
    const problems = cap.invokes.flatMap((i) => checkInvoke(schema, i.token, i.args));
    expect(problems).toEqual([]);
  });

  it('the provider gets its booleans JSON-stringified and the password as a secret', () => {
    const p = cap.resources.find((r) => r.type === 'pulumi:providers:vsphere')!;
    expect(unwrapSecrets(p.inputs)).toMatchObject({ vsphereServer: 'vcenter.corp.example.com', allowUnverifiedSsl: 'false', user: 'svc-mailfleet@vsphere.local' });
  });

  it('every vSphere resource and invoke asks for plugin version 4.17.0', () => {
    const vsphere = cap.resources.filter((r) => isVsphere(r.type));
    for (const r of vsphere) expect(cap.versions.get(r.urn), r.name).toBe('4.17.0');
    const invokes = cap.invokeVersions.filter((i) => i.token.startsWith('vsphere:'));
    expect(invokes).toHaveLength(5);
    for (const i of invokes) expect(i.version, i.token).toBe('4.17.0');
  });
});

describe('the checker itself', () => {
  // A checker that never fails proves nothing: feed it the mistakes it exists to catch.
  it('reports unknown names, missing required inputs, nested mistakes and wrong types', () => {
    const vm = binding.VirtualMachine.__pulumiType;
    expect(checkResource(schema, 'vsphere:index/virtualMachine:VirtualMachines', {}, 'x')).toEqual([expect.stringMatching(/not in the schema/)]);
    expect(checkResource(schema, vm, { numCPUs: 2 }, 'x')).toEqual(
      expect.arrayContaining([expect.stringMatching(/resourcePoolId is missing/), expect.stringMatching(/numCPUs is not an input/)]),
    );
    expect(checkResource(schema, vm, { resourcePoolId: 'p', clone: { templateUUID: 'u' } }, 'x')).toEqual(
      expect.arrayContaining([expect.stringMatching(/templateUuid is missing/), expect.stringMatching(/templateUUID is not an input/)]),
    );
    expect(checkResource(schema, vm, { resourcePoolId: 'p', disks: [{ label: 'd', size: '20' }] }, 'x')).toEqual([expect.stringMatching(/disks\[0\]\.size: expected integer/)]);
    expect(checkResource(schema, vm, { resourcePoolId: 'p', extraConfig: { a: 1 } }, 'x')).toEqual([expect.stringMatching(/extraConfig\.a: expected string/)]);
    expect(checkInvoke(schema, 'vsphere:index/getNetwork:getNetwork', { datacenterId: 'd' })).toEqual([expect.stringMatching(/name is missing/)]);
    expect(checkResource(schema, 'pulumi:providers:vsphere', { allowUnverifiedSsl: true }, 'p')).toEqual([expect.stringMatching(/JSON-stringified/)]);
    expect(checkProperties(schema, {}, {}, 'empty')).toEqual([]);
  });
});
