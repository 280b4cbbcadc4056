import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { kubernetesMockOutputs } from '../../../../components/platforms/kubernetes';
import { installCapture } from '../../../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../../../components/offline/mock-outputs';
import { renderRuntimeConfigs } from '../../../../components/render';
import { parseClusterSpec } from '../../../../components/spec';
import { stackProgram } from '../../../../stacks/program';
import { ROOT, expectSchemaValid, kubeObjects, plain } from './helpers';

const file = join(ROOT, 'stacks', 'Pulumi.ha-kubernetes.yaml');
const stack = YAML.parse(readFileSync(file, 'utf8')) as { config: Record<string, unknown> };
const config = stack.config;

// Pulumi hands object config values to the program as JSON text.
const run = installCapture({
  stack: 'ha-kubernetes',
  outputsFor: composeMockOutputs(commonMockOutputs, kubernetesMockOutputs),
  config: Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
});

describe('stacks/Pulumi.ha-kubernetes.yaml', () => {
  const spec = parseClusterSpec(config['mailfleet:cluster']);

  it('is a production HA kubernetes cluster spec', () => {
    expect(config['mailfleet:topology']).toBe('ha-cluster');
    expect(Object.keys(config).every((k) => k.startsWith('mailfleet:') || k.startsWith('kubernetes:'))).toBe(true);
    expect(spec.platform.kind).toBe('kubernetes');
    expect(spec.environment).toBe('production');
    for (const role of ['hubs', 'nodes', 'gateways', 'proxies'] as const) expect(spec[role].count, role).toBeGreaterThanOrEqual(2);
    expect(spec.storage.kind).toBe('pvc-rwx');
    expect(spec.storage.backup?.schedule).toBeTruthy();
    expect(['cert-manager', 'provided']).toContain(spec.tls.mode);
    // Pinned to an exact version or a digest, never a moving tag.
    expect(spec.runtime.image).toMatch(/(:\d+\.\d+\.\d+|@sha256:[0-9a-f]{64})$/);
    expect(spec.admin.public).toBe(false);
    expect(spec.security.plaintextAuth).toBe('never');
    expect(renderRuntimeConfigs(spec)).toHaveLength(2 + 3 + 2 + 2);
  });

  it('builds under mocks through the stack program, every object schema-valid', async () => {
    const cap = await run(() => stackProgram());
    expect(cap.duplicates).toEqual([]);
    expectSchemaValid(cap);
    const provider = cap.resources.filter((r) => r.type === 'pulumi:providers:kubernetes');
    expect(provider.map((p) => p.inputs.context)).toEqual(['prod-fra1']);
    const clients = kubeObjects(cap).find((r) => r.name === 'mail-prod-lb-clients')!;
    expect(plain(clients).spec.loadBalancerIP).toBe('192.0.2.25');
    const node = kubeObjects(cap).find((r) => r.name === 'mail-prod-node-statefulset')!;
    expect(plain(node).metadata.labels).toMatchObject({ team: 'messaging', 'cost-center': 'it-mail' });
    expect((cap.outputs.endpoints as Record<string, string>).imaps).toMatch(/^203\.0\.113\.\d+:993$/);
    // admin.allowedCidrs reach the hub API; nothing else from outside does.
    const hub = plain(kubeObjects(cap).find((r) => r.name === 'mail-prod-hub-netpol')!).spec;
    expect(hub.ingress).toContainEqual({ from: [{ ipBlock: { cidr: '10.20.0.0/24' } }], ports: [{ protocol: 'TCP', port: 443 }] });
  });
});
