import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import { describe, expect, it } from 'vitest';
import { installCapture, isSecretValue, secretPaths, unwrapSecrets } from '../../../components/offline/capture';
import { commonMockOutputs, composeMockOutputs } from '../../../components/offline/mock-outputs';

const run = installCapture({ stack: 'unit', outputsFor: composeMockOutputs(commonMockOutputs) });

class Box extends pulumi.ComponentResource {
  constructor(name: string, opts?: pulumi.ComponentResourceOptions) {
    super('mailfleet:test:Box', name, {}, opts);
    const pw = new random.RandomPassword(`${name}-pw`, { length: 12 }, { parent: this });
    // Mocks do not honour a provider's additionalSecretOutputs, which is why
    // components/secrets.ts wraps every generated secret in pulumi.secret.
    const token = pulumi.secret(pw.result);
    new random.RandomString(`${name}-label`, { length: 4, keepers: { token } }, { parent: this });
    this.registerOutputs({ spec: { nodes: 3 }, token });
  }
}

describe('installCapture', () => {
  it('records type, name, parent, inputs, outputs and secrets', async () => {
    const cap = await run(() => new Box('b'));
    expect(cap.resources.map((r) => r.type).sort()).toEqual(['mailfleet:test:Box', 'random:index/randomPassword:RandomPassword', 'random:index/randomString:RandomString']);
    const box = cap.resources.find((r) => r.type === 'mailfleet:test:Box')!;
    const label = cap.resources.find((r) => r.name === 'b-label')!;
    expect(label.parent).toBe(box.urn);
    expect(box.parent).toBeUndefined();
    // A secret output flowing into another resource's input stays marked.
    expect(secretPaths(label.inputs)).toEqual(['keepers']);
    expect(unwrapSecrets(label.inputs)).toMatchObject({ length: 4, keepers: { token: expect.stringMatching(/^mock-/) } });
    // Component outputs are what registerOutputs sent.
    expect(box.outputs.spec).toEqual({ nodes: 3 });
    expect(isSecretValue(box.outputs.token)).toBe(true);
    expect(cap.duplicates).toEqual([]);
  });

  it('a second run reports only its own resources and flags duplicate URNs', async () => {
    const cap = await run(() => {
      new Box('c');
      new Box('c');
    });
    expect(cap.resources.filter((r) => r.name === 'b')).toHaveLength(0);
    expect(cap.duplicates).toContain('urn:pulumi:unit::mailfleet::mailfleet:test:Box::c');
  });
});
