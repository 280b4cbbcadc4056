import { readFileSync } from 'node:fs';
import type { PowerTargetOf } from '../../config';
import { confirmState } from './confirm';
import { PowerError, jsonBody, request, type Endpoint, type HttpResponse } from './http';
import type { PowerAdapter, PowerState } from './types';

/**
 * vSphere: the member is a VM, powered through the vSphere Automation REST
 * API (vCenter 7.0 U2+):
 *   POST   /api/session (HTTP Basic)          → 201, the session id as a JSON string
 *   GET    /api/vcenter/vm/{vm}/power         → {"state": POWERED_ON|POWERED_OFF|SUSPENDED}
 *   POST   /api/vcenter/vm/{vm}/power?action=stop|start → 204
 *   DELETE /api/session                        → 204
 * Calls carry `vmware-api-session-id`. Errors are `{"error_type": ...,
 * "messages": [{"default_message": ...}]}`; ALREADY_IN_DESIRED_STATE
 * (400) is success for us. A session that expired (401 UNAUTHENTICATED)
 * is created again once. Least privilege: a role with System.Read,
 * VirtualMachine.Interact.PowerOn and .PowerOff, granted on the two VMs.
 */
export function vspherePower(t: PowerTargetOf<'vsphere'>): PowerAdapter {
  const target = `vsphere ${t.vm} at ${t.endpoint}`;
  const ep: Endpoint = { base: t.endpoint, caFile: t.caFile, timeoutMs: t.requestTimeoutMs, what: target };
  let session: string | undefined;

  function errorOf(res: HttpResponse): { type?: string; text: string } {
    const b = jsonBody(res) as { error_type?: string; messages?: { default_message?: string }[] } | undefined;
    return { type: b?.error_type, text: b?.messages?.map((m) => m.default_message).filter(Boolean).join('; ') || res.statusText };
  }

  function fail(res: HttpResponse): never {
    const e = errorOf(res);
    const msg = `${target}: ${res.status} ${e.type ?? ''} ${e.text}`.replace(/\s+/g, ' ').trim();
    if (res.status === 401 || res.status === 403) throw new PowerError('AUTH', msg, res.status);
    if (res.status === 404) throw new PowerError('NOT_FOUND', msg, res.status);
    throw new PowerError('API', msg, res.status);
  }

  async function login(): Promise<string> {
    const basic = Buffer.from(`${t.username}:${readFileSync(t.passwordFile, 'utf8').trim()}`).toString('base64');
    const res = await request(ep, { method: 'POST', path: '/api/session', headers: { authorization: `Basic ${basic}` } });
    if (res.status !== 201 && res.status !== 200) fail(res);
    const id = jsonBody(res);
    if (typeof id !== 'string' || !id) throw new PowerError('API', `${target}: POST /api/session answered without a session id`);
    return id;
  }

  /** One call with the session; a 401 on a cached session logs in again once. */
  async function call(method: 'GET' | 'POST', path: string): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      const fresh = session === undefined;
      session ??= await login();
      const res = await request(ep, { method, path, headers: { 'vmware-api-session-id': session } });
      if (res.status === 401 && !fresh && attempt === 0) {
        session = undefined;
        continue;
      }
      return res;
    }
  }

  const powerPath = `/api/vcenter/vm/${encodeURIComponent(t.vm)}/power`;

  async function state(): Promise<PowerState> {
    const res = await call('GET', powerPath);
    if (res.status !== 200) fail(res);
    const s = (jsonBody(res) as { state?: string } | undefined)?.state;
    if (s === 'POWERED_ON') return 'running';
    if (s === 'POWERED_OFF') return 'stopped';
    if (s === 'SUSPENDED') return 'transitioning';
    throw new PowerError('API', `${target}: power state ${JSON.stringify(s)} is not one vSphere documents`);
  }

  async function act(action: 'start' | 'stop'): Promise<void> {
    const res = await call('POST', `${powerPath}?action=${action}`);
    if (res.status === 204 || res.status === 200) return;
    if (res.status === 400 && errorOf(res).type === 'ALREADY_IN_DESIRED_STATE') return;
    fail(res);
  }

  return {
    target,
    state,
    async powerOff() {
      await act('stop');
      await confirmState(target, 'stopped', state, t.confirmTimeoutMs);
    },
    async powerOn() {
      await act('start');
      await confirmState(target, 'running', state, t.confirmTimeoutMs);
    },
    async close() {
      if (session === undefined) return;
      const id = session;
      session = undefined;
      // Best effort: an expired session is already gone.
      await request(ep, { method: 'DELETE', path: '/api/session', headers: { 'vmware-api-session-id': id } }).catch(() => undefined);
    },
  };
}
