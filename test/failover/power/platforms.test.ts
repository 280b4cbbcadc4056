import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PowerTarget } from '../../../mail-runtime/config';
import { powerAdapter } from '../../../mail-runtime/failover/power';
import { fakeDocker, fakeKubernetes, fakeProxmox, fakeVsphere, fixture } from '../../helpers/fake-power-api';
import { powerContract, secretFile } from './contract';

// A loopback port that refuses connections: port 1 (tcpmux) is never served here.
const DEAD = 'http://127.0.0.1:1';

powerContract({
  name: 'kubernetes',
  fixture: fixture('kubernetes'),
  start: () => fakeKubernetes('sa-token-1'),
  target: (base, dir, o) => ({
    kind: 'kubernetes',
    apiServer: base,
    namespace: 'mail',
    workload: { kind: 'StatefulSet', name: o.missing ? 'pair-all-9' : 'pair-all-1' },
    tokenFile: secretFile(dir, 'token', o.wrongSecret ? 'stolen' : 'sa-token-1'),
    confirmTimeoutMs: o.confirmTimeoutMs ?? 10_000,
    requestTimeoutMs: o.requestTimeoutMs ?? 5_000,
  }),
  deadEndpoint: () => DEAD,
});

powerContract({
  name: 'docker',
  fixture: fixture('docker'),
  start: (dir) => fakeDocker(path.join(dir, 'docker.sock')),
  target: (base, _dir, o) => ({
    kind: 'docker',
    endpoint: base,
    container: o.missing ? 'pair-all-9' : 'pair-all-1',
    confirmTimeoutMs: o.confirmTimeoutMs ?? 10_000,
    requestTimeoutMs: o.requestTimeoutMs ?? 5_000,
  }),
  settles: 'powerOn',
  noCredential: true,
  deadEndpoint: (dir) => `unix://${path.join(dir, 'nobody.sock')}`,
});

powerContract({
  name: 'proxmox',
  fixture: fixture('proxmox'),
  start: () => fakeProxmox('0b4f3c1e-6a8d-4e2f-9c7b-1d2e3f4a5b6c'),
  target: (base, dir, o) => ({
    kind: 'proxmox',
    endpoint: base,
    node: 'pve2',
    vmid: o.missing ? 299 : 201,
    tokenId: 'failover@pve!controller',
    tokenSecretFile: secretFile(dir, 'pve-secret', o.wrongSecret ? '00000000-0000-0000-0000-000000000000' : '0b4f3c1e-6a8d-4e2f-9c7b-1d2e3f4a5b6c'),
    confirmTimeoutMs: o.confirmTimeoutMs ?? 10_000,
    requestTimeoutMs: o.requestTimeoutMs ?? 5_000,
  }),
  deadEndpoint: () => DEAD,
});

powerContract({
  name: 'vsphere',
  fixture: fixture('vsphere'),
  start: () => fakeVsphere('vc-pass'),
  target: (base, dir, o) => ({
    kind: 'vsphere',
    endpoint: base,
    vm: o.missing ? 'vm-9999' : 'vm-2042',
    username: 'failover@vsphere.local',
    passwordFile: secretFile(dir, 'vc-pass', o.wrongSecret ? 'guess' : 'vc-pass'),
    confirmTimeoutMs: o.confirmTimeoutMs ?? 10_000,
    requestTimeoutMs: o.requestTimeoutMs ?? 5_000,
  }),
  deadEndpoint: () => DEAD,
});

describe('power targets are validated', () => {
  it('names the bad field', () => {
    const r = PowerTarget.safeParse({ kind: 'proxmox', endpoint: 'https://pve:8006', node: 'pve2', vmid: 5, tokenId: 'root', tokenSecretFile: '/s' });
    expect(r.success).toBe(false);
    const paths = r.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['vmid', 'tokenId']));
  });
  it('refuses an unknown platform', () => {
    expect(PowerTarget.safeParse({ kind: 'hyperv' }).success).toBe(false);
  });
});

describe('platform specifics', () => {
  it('vsphere: an expired session is created again once, and close() deletes the session', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mf-vs-'));
    const api = await fakeVsphere('vc-pass');
    try {
      api.setRunning(true);
      const a = powerAdapter(
        PowerTarget.parse({ kind: 'vsphere', endpoint: api.base, vm: 'vm-2042', username: 'failover@vsphere.local', passwordFile: secretFile(dir, 'p', 'vc-pass') }),
      );
      expect(await a.state()).toBe('running');
      api.sessions.clear(); // vCenter forgot the session (expiry, restart)
      await a.powerOff();
      const logins = api.requests.filter((r) => r.method === 'POST' && r.url === '/api/session').length;
      expect(logins).toBe(2);
      expect(api.sessions.size).toBe(1);
      await a.close();
      expect(api.sessions.size).toBe(0);
      expect(api.requests.at(-1)).toMatchObject({ method: 'DELETE', url: '/api/session' });
    } finally {
      await api.close();
    }
  });

  it('proxmox: shutdownSeconds asks for a clean shutdown that force-stops after the timeout', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mf-pve-'));
    const api = await fakeProxmox('s3');
    try {
      api.setRunning(true);
      const want = fixture('proxmox').requests.shutdown!;
      await powerAdapter(
        PowerTarget.parse({ kind: 'proxmox', endpoint: api.base, node: 'pve2', vmid: 201, tokenId: 'failover@pve!controller', tokenSecretFile: secretFile(dir, 's', 's3'), shutdownSeconds: 30 }),
      ).powerOff();
      const sent = api.requests.find((r) => r.method === 'POST');
      expect(sent).toMatchObject({ method: want.method, url: want.path, body: want.body });
      expect(api.isRunning()).toBe(false);
    } finally {
      await api.close();
    }
  });

  it('kubernetes: a Deployment is scaled through its own scale subresource', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mf-k8s-'));
    const api = await fakeKubernetes('t');
    try {
      await powerAdapter(
        PowerTarget.parse({ kind: 'kubernetes', apiServer: api.base, namespace: 'mail', workload: { kind: 'Deployment', name: 'pair-all-1' }, tokenFile: secretFile(dir, 't', 't') }),
      ).powerOn();
      expect(api.requests.map((r) => `${r.method} ${r.url}`)).toContain(`GET ${fixture('kubernetes').requests.getDeploymentScale!.path}`);
      expect(api.isRunning()).toBe(true);
    } finally {
      await api.close();
    }
  });
});
