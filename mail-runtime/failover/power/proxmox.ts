import { readFileSync } from 'node:fs';
import type { PowerTargetOf } from '../../config';
import { confirmState } from './confirm';
import { PowerError, jsonBody, request, type Endpoint, type HttpResponse } from './http';
import type { PowerAdapter, PowerState } from './types';

/**
 * Proxmox VE: the member is a QEMU VM, powered through the REST API with an
 * API token (`Authorization: PVEAPIToken=user@realm!name=secret`):
 *   GET  /api2/json/nodes/{node}/qemu/{vmid}/status/current  → data.status running|stopped
 *   POST /api2/json/nodes/{node}/qemu/{vmid}/status/stop     → data: UPID (hard stop)
 *   POST .../status/shutdown (timeout, forceStop=1)          → data: UPID (clean, then hard)
 *   POST .../status/start                                    → data: UPID
 * Answers are `{"data": ...}`; refusals put the reason in the HTTP status
 * line (401 authentication failure, 403 Permission check failed (...)).
 * Least privilege: a privilege-separated token whose role holds only
 * VM.PowerMgmt and VM.Audit on /vms/{vmid} of the two members.
 */
export function proxmoxPower(t: PowerTargetOf<'proxmox'>): PowerAdapter {
  const target = `proxmox ${t.node}/qemu/${t.vmid}`;
  const ep: Endpoint = { base: t.endpoint, caFile: t.caFile, timeoutMs: t.requestTimeoutMs, what: target };
  const base = `/api2/json/nodes/${encodeURIComponent(t.node)}/qemu/${t.vmid}/status`;
  const auth = () => ({ authorization: `PVEAPIToken=${t.tokenId}=${readFileSync(t.tokenSecretFile, 'utf8').trim()}` });

  function data(res: HttpResponse): unknown {
    if (res.status === 200) return (jsonBody(res) as { data?: unknown } | undefined)?.data;
    const why = res.statusText || res.body.slice(0, 200);
    if (res.status === 401 || res.status === 403) throw new PowerError('AUTH', `${target}: ${res.status} ${why}`, res.status);
    // A VM that is not there answers 500 "Configuration file ... does not exist".
    if (res.status === 404 || /does not exist/i.test(why)) throw new PowerError('NOT_FOUND', `${target}: ${res.status} ${why}`, res.status);
    throw new PowerError('API', `${target}: ${res.status} ${why}`, res.status);
  }

  async function state(): Promise<PowerState> {
    const d = data(await request(ep, { method: 'GET', path: `${base}/current`, headers: auth() })) as { status?: string; qmpstatus?: string } | undefined;
    if (d?.status === 'stopped') return 'stopped';
    if (d?.status === 'running') return d.qmpstatus === undefined || d.qmpstatus === 'running' ? 'running' : 'transitioning';
    throw new PowerError('API', `${target}: status/current answered without a status`);
  }

  async function post(action: string, form: Record<string, string> = {}): Promise<void> {
    const body = new URLSearchParams(form).toString();
    data(await request(ep, { method: 'POST', path: `${base}/${action}`, headers: { ...auth(), 'content-type': 'application/x-www-form-urlencoded' }, body }));
  }

  return {
    target,
    state,
    async powerOff() {
      if ((await state()) === 'stopped') return;
      if (t.shutdownSeconds > 0) await post('shutdown', { timeout: String(t.shutdownSeconds), forceStop: '1' });
      else await post('stop');
      await confirmState(target, 'stopped', state, t.confirmTimeoutMs + t.shutdownSeconds * 1000);
    },
    async powerOn() {
      if ((await state()) === 'running') return;
      await post('start');
      await confirmState(target, 'running', state, t.confirmTimeoutMs);
    },
    async close() {},
  };
}
