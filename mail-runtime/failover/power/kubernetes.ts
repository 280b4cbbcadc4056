import { readFileSync } from 'node:fs';
import type { PowerTargetOf } from '../../config';
import { confirmState } from './confirm';
import { PowerError, jsonBody, request, type Endpoint, type HttpResponse } from './http';
import type { PowerAdapter, PowerState } from './types';

/**
 * Kubernetes: the member is a StatefulSet (or Deployment) with one replica;
 * powered off is zero replicas with no pod left. Uses the `scale`
 * subresource (apps/v1, object kind autoscaling/v1 Scale):
 *   GET   /apis/apps/v1/namespaces/{ns}/{statefulsets|deployments}/{name}/scale
 *   PATCH the same path, `application/merge-patch+json` `{"spec":{"replicas":N}}`
 * Least privilege (components build it): a Role with verbs get and patch on
 * resource `statefulsets/scale` (or `deployments/scale`) limited by
 * resourceNames to the two members, nothing else.
 * Errors come as a v1 Status object (`reason`, `message`, `code`).
 */
export function kubernetesPower(t: PowerTargetOf<'kubernetes'>): PowerAdapter {
  const resource = t.workload.kind === 'StatefulSet' ? 'statefulsets' : 'deployments';
  const target = `kubernetes ${t.workload.kind.toLowerCase()} ${t.namespace}/${t.workload.name}`;
  const ep: Endpoint = { base: t.apiServer, caFile: t.caFile, timeoutMs: t.requestTimeoutMs, what: target };
  const path = `/apis/apps/v1/namespaces/${encodeURIComponent(t.namespace)}/${resource}/${encodeURIComponent(t.workload.name)}/scale`;
  const auth = () => ({ authorization: `Bearer ${readFileSync(t.tokenFile, 'utf8').trim()}` });

  function check(res: HttpResponse): { spec?: { replicas?: number }; status?: { replicas?: number } } {
    const body = jsonBody(res) as { kind?: string; reason?: string; message?: string; spec?: { replicas?: number }; status?: { replicas?: number } } | undefined;
    if (res.status >= 200 && res.status < 300 && body?.kind === 'Scale') return body;
    const why = body?.message ?? (res.body.slice(0, 200) || res.statusText);
    if (res.status === 401 || res.status === 403) throw new PowerError('AUTH', `${target}: ${res.status} ${body?.reason ?? res.statusText}: ${why}`, res.status);
    if (res.status === 404) throw new PowerError('NOT_FOUND', `${target}: not found (${why})`, res.status);
    throw new PowerError('API', `${target}: ${res.status} ${body?.reason ?? res.statusText}: ${why}`, res.status);
  }

  async function state(): Promise<PowerState> {
    const s = check(await request(ep, { method: 'GET', path, headers: auth() }));
    const want = s.spec?.replicas ?? 0;
    const have = s.status?.replicas ?? 0;
    if (want === 0 && have === 0) return 'stopped';
    if (want > 0 && have >= want) return 'running';
    return 'transitioning';
  }

  async function scale(replicas: number): Promise<void> {
    check(
      await request(ep, {
        method: 'PATCH',
        path,
        headers: { ...auth(), 'content-type': 'application/merge-patch+json' },
        body: JSON.stringify({ spec: { replicas } }),
      }),
    );
  }

  return {
    target,
    state,
    async powerOff() {
      await scale(0);
      await confirmState(target, 'stopped', state, t.confirmTimeoutMs);
    },
    async powerOn() {
      await scale(t.replicas);
      await confirmState(target, 'running', state, t.confirmTimeoutMs);
    },
    async close() {},
  };
}
