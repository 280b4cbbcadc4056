import type { PowerTargetOf } from '../../config';
import { confirmState } from './confirm';
import { PowerError, jsonBody, request, type Endpoint, type HttpResponse } from './http';
import type { PowerAdapter, PowerState } from './types';

/**
 * Docker: the member is one container, created by the stack and started or
 * stopped here through the Engine API (v1.41+):
 *   GET  /v{api}/containers/{id}/json          → State.Status / State.Running
 *   POST /v{api}/containers/{id}/stop?t=N      → 204, or 304 already stopped
 *   POST /v{api}/containers/{id}/start         → 204, or 304 already started
 * Errors carry `{"message": ...}`. The engine itself has no authorisation:
 * least privilege is reaching only the standby host's engine (its socket, or
 * its TLS port with a client certificate the engine's CA signed).
 */
export function dockerPower(t: PowerTargetOf<'docker'>): PowerAdapter {
  const target = `docker container ${t.container} at ${t.endpoint}`;
  const ep: Endpoint = { base: t.endpoint, caFile: t.tls?.caFile, certFile: t.tls?.certFile, keyFile: t.tls?.keyFile, timeoutMs: t.requestTimeoutMs, what: target };
  const base = `/v${t.apiVersion}/containers/${encodeURIComponent(t.container)}`;

  function fail(res: HttpResponse): never {
    const msg = (jsonBody(res) as { message?: string } | undefined)?.message ?? (res.body.slice(0, 200) || res.statusText);
    if (res.status === 401 || res.status === 403) throw new PowerError('AUTH', `${target}: ${res.status}: ${msg}`, res.status);
    if (res.status === 404) throw new PowerError('NOT_FOUND', `${target}: ${msg}`, res.status);
    throw new PowerError('API', `${target}: ${res.status}: ${msg}`, res.status);
  }

  async function state(): Promise<PowerState> {
    const res = await request(ep, { method: 'GET', path: `${base}/json` });
    if (res.status !== 200) fail(res);
    const s = (jsonBody(res) as { State?: { Status?: string; Running?: boolean } } | undefined)?.State;
    if (!s) throw new PowerError('API', `${target}: inspect answered without a State`);
    // Status: created | running | paused | restarting | removing | exited | dead.
    if (s.Status === 'running' && s.Running) return 'running';
    if (s.Status === 'created' || s.Status === 'exited' || s.Status === 'dead') return 'stopped';
    return 'transitioning';
  }

  async function post(path: string): Promise<void> {
    // The engine answers a stop only after the container is gone, up to t seconds + kill.
    const res = await request({ ...ep, timeoutMs: ep.timeoutMs + t.stopGraceSeconds * 1000 }, { method: 'POST', path });
    if (res.status !== 204 && res.status !== 304) fail(res);
  }

  return {
    target,
    state,
    async powerOff() {
      await post(`${base}/stop?t=${t.stopGraceSeconds}`);
      await confirmState(target, 'stopped', state, t.confirmTimeoutMs);
    },
    async powerOn() {
      await post(`${base}/start`);
      await confirmState(target, 'running', state, t.confirmTimeoutMs);
    },
    async close() {},
  };
}
