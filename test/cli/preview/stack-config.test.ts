import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SECRET_PLACEHOLDER, StackConfigFileError, listStacks, readStackConfig } from '../../../cli/preview/stack-config';

const dir = mkdtempSync(join(tmpdir(), 'mf-stacks-'));
writeFileSync(
  join(dir, 'Pulumi.demo.yaml'),
  `config:
  mailfleet:topology: ha-cluster
  cluster:
    name: demo
    platform: { kind: docker }
  proxmoxve:apiToken:
    secure: v1:abc
  mailfleet:nested:
    inner: { secure: v1:def }
`,
);
writeFileSync(join(dir, 'Pulumi.broken.yaml'), 'config: [1, 2\n');

describe('readStackConfig', () => {
  it('flattens config the way the Pulumi CLI hands it to a program', () => {
    const c = readStackConfig(dir, 'demo');
    expect(c.config['mailfleet:topology']).toBe('ha-cluster');
    // A key without namespace belongs to the project.
    expect(JSON.parse(c.config['mailfleet:cluster']!)).toEqual({ name: 'demo', platform: { kind: 'docker' } });
    // Ciphertext cannot be decrypted offline: placeholder, marked secret.
    expect(c.config['proxmoxve:apiToken']).toBe(SECRET_PLACEHOLDER);
    expect(c.secretKeys.sort()).toEqual(['mailfleet:nested', 'proxmoxve:apiToken']);
    expect(JSON.parse(c.config['mailfleet:nested']!)).toEqual({ inner: SECRET_PLACEHOLDER });
  });

  it('names the missing stack and lists the known ones', () => {
    expect(() => readStackConfig(dir, 'prod')).toThrow(StackConfigFileError);
    expect(() => readStackConfig(dir, 'prod')).toThrow(/Pulumi\.prod\.yaml.*stacks there: broken, demo/);
    expect(listStacks(dir)).toEqual(['broken', 'demo']);
  });

  it('reports YAML errors with the file', () => {
    expect(() => readStackConfig(dir, 'broken')).toThrow(/Pulumi\.broken\.yaml: not valid YAML/);
  });
});
