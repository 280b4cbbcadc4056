import type { MockOutputs } from './mock-outputs';
import { dockerMockOutputs } from '../platforms/docker';
import { kubernetesMockOutputs } from '../platforms/kubernetes';
import { proxmoxMockOutputs } from '../platforms/proxmox';
import { vsphereMockInvokes, vsphereMockOutputs } from '../platforms/vsphere';

/**
 * Every platform's fakes for offline runs (preview, tests), composed.
 * Each adapter folder owns its own mocks.ts.
 */
const fakes: MockOutputs[] = [dockerMockOutputs, kubernetesMockOutputs, proxmoxMockOutputs, vsphereMockOutputs];

export const platformMockOutputs: MockOutputs = (type, name, inputs) => {
  for (const f of fakes) {
    const r = f(type, name, inputs);
    if (r) return r;
  }
  return undefined;
};

/** Results for data-source invokes (vSphere lookups). */
export function platformInvokeResult(token: string, args: Record<string, unknown>): Record<string, unknown> {
  return vsphereMockInvokes(token, args) ?? { id: `${token.split(':').pop()}-${String(args.name ?? 'default')}` };
}
