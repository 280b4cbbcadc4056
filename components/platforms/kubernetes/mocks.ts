import { createHash } from 'node:crypto';
import type { MockOutputs } from '../../offline/mock-outputs';

/**
 * Provider-computed outputs of Kubernetes objects, faked deterministically
 * for offline runs: the external address a LoadBalancer Service gets (from
 * TEST-NET-3, RFC 5737, so it can never be mistaken for a real one).
 */
export const kubernetesMockOutputs: MockOutputs = (type, name, inputs) => {
  // The token controller fills a service-account-token Secret's data.token (base64).
  if (type === 'kubernetes:core/v1:Secret' && inputs.type === 'kubernetes.io/service-account-token') {
    return { data: { token: Buffer.from(`mock-sa-token-${createHash('sha256').update(name).digest('hex').slice(0, 24)}`).toString('base64') } };
  }
  if (type !== 'kubernetes:core/v1:Service') return undefined;
  const spec = inputs.spec as { type?: unknown } | undefined;
  if (spec?.type !== 'LoadBalancer') return undefined;
  const n = createHash('sha256').update(name).digest()[0]! % 250;
  return { status: { loadBalancer: { ingress: [{ ip: `203.0.113.${n + 1}` }] } } };
};
