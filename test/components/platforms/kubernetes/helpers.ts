import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { expect } from 'vitest';
import type { Capture, CapturedResource } from '../../../../components/offline/capture';
import { unwrapSecrets } from '../../../../components/offline/capture';
import type { ClusterSpecInput } from '../../../../components/spec';
import { CERTIFICATE_TYPE, MODELS, manifestOf, validateManifest } from './schema';

export const ROOT = join(__dirname, '..', '..', '..', '..');

export function exampleSpec(): ClusterSpecInput {
  return YAML.parse(readFileSync(join(ROOT, 'examples', 'specs', 'kubernetes-ha.yaml'), 'utf8')) as ClusterSpecInput;
}

export const ofType = (cap: Capture, type: string): CapturedResource[] => cap.resources.filter((r) => r.type === type);

export function one(cap: Capture, type: string, name: string): CapturedResource {
  const found = cap.resources.filter((r) => r.type === type && r.name === name);
  if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
  return found[0]!;
}

/** Unwrapped inputs as a loosely typed object, for reading nested fields in assertions. */
// Test-only: assertions walk deep into Kubernetes objects; vitest reports a wrong path as a failure.
export const plain = (r: CapturedResource): any => unwrapSecrets(r.inputs);

/** Kubernetes objects (not the provider, not components). */
export const kubeObjects = (cap: Capture): CapturedResource[] => cap.resources.filter((r) => r.type.startsWith('kubernetes:'));

export function countByType(cap: Capture): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of kubeObjects(cap)) counts[r.type] = (counts[r.type] ?? 0) + 1;
  return counts;
}

/** Every Kubernetes object validates against its schema; returns how many were checked. */
export function expectSchemaValid(cap: Capture): number {
  const objects = kubeObjects(cap);
  expect(objects.length).toBeGreaterThan(0);
  for (const r of objects) {
    expect(MODELS[r.type] || r.type === CERTIFICATE_TYPE, `schema for ${r.type}`).toBeTruthy();
    try {
      validateManifest(r.type, manifestOf(r));
    } catch (err) {
      throw new Error(`${r.type} ${r.name}: ${(err as Error).message}`, { cause: err });
    }
  }
  return objects.length;
}
