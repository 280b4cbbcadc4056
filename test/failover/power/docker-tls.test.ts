import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PowerTarget } from '../../../mail-runtime/config';
import { PowerError, powerAdapter } from '../../../mail-runtime/failover/power';
import { request } from '../../../mail-runtime/failover/power/http';
import { fakeDocker, fixture, type FakeApi } from '../../helpers/fake-power-api';
import { makeCa, rsaKeyPair, type Pem } from '../../helpers/pki';
import { powerContract, secretFile } from './contract';

/**
 * Docker Engine over TCP with `--tlsverify` (the engine's port 2376): the
 * controller presents a client certificate the engine's CA signed, and
 * checks the engine's certificate against that CA. The fake engine is an
 * HTTPS server that requires a client certificate (requestCert +
 * rejectUnauthorized, as dockerd with --tlsverify); without one, or with
 * one from another CA, the handshake fails and nothing is powered.
 */

const day = 86_400_000;

/**
 * A certificate signed by `ca`: a client's (extKeyUsage clientAuth, which
 * OpenSSL checks for a TLS client) or the engine's for 127.0.0.1 (an IP
 * subjectAltName, as `dockerd --tlsverify` certificates carry).
 */
async function signed(kind: 'client' | 'server', name: string, ca: Pem, keyPair = rsaKeyPair()): Promise<Pem> {
  const p = await generate([{ name: 'commonName', value: name }], {
    keyPair,
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - day),
    notAfterDate: new Date(Date.now() + 30 * day),
    ca: { key: ca.key, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      kind === 'client' ? { name: 'extKeyUsage', clientAuth: true } : { name: 'extKeyUsage', serverAuth: true },
      ...(kind === 'server' ? [{ name: 'subjectAltName' as const, altNames: [{ type: 7 as const, ip: '127.0.0.1' }] }] : []),
    ],
  });
  return { key: keyPair.privateKey, cert: p.cert };
}

interface Pki {
  ca: Pem;
  server: Pem;
  client: Pem;
  /** Signed by a CA the engine does not trust. */
  stranger: Pem;
}

// One key pair for every certificate: RSA generation is the slow part, and these tests check trust, not keys.
let pkiMade: Promise<Pki> | undefined;
function pki(): Promise<Pki> {
  pkiMade ??= (async () => {
    const keys = rsaKeyPair();
    const ca = await makeCa('docker-engine-ca', keys);
    const otherCa = await makeCa('someone-else-ca', keys);
    return {
      ca,
      server: await signed('server', 'docker-engine', ca, keys),
      client: await signed('client', 'failover-controller', ca, keys),
      stranger: await signed('client', 'failover-controller', otherCa, keys),
    };
  })();
  return pkiMade;
}

async function engine(): Promise<FakeApi> {
  const p = await pki();
  return fakeDocker({ tls: { key: p.server.key, cert: p.server.cert, ca: p.ca.cert } });
}

/** The docker power target with the client bundle as files (what the controller's mounted secret holds). */
async function target(base: string, dir: string, o: { missing?: boolean; stranger?: boolean; noTls?: boolean; confirmTimeoutMs?: number; requestTimeoutMs?: number } = {}): Promise<unknown> {
  const p = await pki();
  const client = o.stranger ? p.stranger : p.client;
  return {
    kind: 'docker',
    endpoint: base,
    container: o.missing ? 'pair-all-9' : 'pair-all-1',
    ...(o.noTls ? {} : { tls: { caFile: secretFile(dir, 'ca.pem', p.ca.cert), certFile: secretFile(dir, 'cert.pem', client.cert), keyFile: secretFile(dir, 'key.pem', client.key) } }),
    confirmTimeoutMs: o.confirmTimeoutMs ?? 10_000,
    requestTimeoutMs: o.requestTimeoutMs ?? 5_000,
  };
}

// The adapter contract, over HTTPS with the client certificate (the contract's target() is synchronous: the PKI is made first).
let ready: Pki | undefined;
beforeAll(async () => {
  ready = await pki();
});
powerContract({
  name: 'docker over TCP with --tlsverify',
  fixture: fixture('docker'),
  start: () => engine(),
  target: (base, dir, o) => {
    const p = ready!;
    return {
      kind: 'docker',
      endpoint: base,
      container: o.missing ? 'pair-all-9' : 'pair-all-1',
      tls: { caFile: secretFile(dir, 'ca.pem', p.ca.cert), certFile: secretFile(dir, 'cert.pem', p.client.cert), keyFile: secretFile(dir, 'key.pem', p.client.key) },
      confirmTimeoutMs: o.confirmTimeoutMs ?? 10_000,
      requestTimeoutMs: o.requestTimeoutMs ?? 5_000,
    };
  },
  settles: 'powerOn',
  noCredential: true,
  // Port 1 (tcpmux) is never served here.
  deadEndpoint: () => 'https://127.0.0.1:1',
});

async function failure(p: Promise<unknown>): Promise<PowerError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PowerError) return e;
    throw e;
  }
  throw new Error('resolved: the operation was claimed done');
}

describe('docker over TCP with --tlsverify: a missing or foreign client certificate fences nothing', () => {
  let api: FakeApi;
  let dir: string;
  beforeAll(async () => {
    api = await engine();
    dir = mkdtempSync(path.join(tmpdir(), 'mf-docker-tls-'));
  });
  afterAll(() => api.close());

  it('without a client certificate: AUTH naming what to give, the container still running, no request served', async () => {
    api.setRunning(true);
    const before = api.requests.length;
    const a = powerAdapter(PowerTarget.parse(await target(api.base, dir, { noTls: true })));
    const e = await failure(a.powerOff());
    expect(e.code).toBe('AUTH');
    // The engine's certificate is not from a public CA either: without tls.caFile the first refusal may be ours.
    expect(e.message).toMatch(/TLS (handshake|certificate)/);
    expect(e.message).toMatch(/nothing was powered/);
    expect(api.isRunning()).toBe(true);
    expect(api.requests.length).toBe(before);
  });

  it('with the CA but no client certificate: the engine refuses the handshake, AUTH says none was sent', async () => {
    api.setRunning(true);
    const before = api.requests.length;
    const p = await pki();
    // The docker schema takes the bundle whole, so a CA without a client certificate is tried below it, with the adapters' request helper.
    const e = await failure(request({ base: api.base, caFile: secretFile(dir, 'ca-only.pem', p.ca.cert), timeoutMs: 5000, what: 'docker container pair-all-1' }, { method: 'POST', path: '/v1.41/containers/pair-all-1/stop?t=0' }));
    expect(e.code).toBe('AUTH');
    expect(e.message).toMatch(/refused the TLS handshake .*no client certificate was sent/);
    expect(api.isRunning()).toBe(true);
    expect(api.requests.length).toBe(before);
  });

  it('with a client certificate from another CA: an error naming the certificate, still running', async () => {
    api.setRunning(true);
    const a = powerAdapter(PowerTarget.parse(await target(api.base, dir, { stranger: true })));
    const e = await failure(a.powerOff());
    // TLS 1.3: the engine checks the certificate after the client's half of the handshake, so its alert may arrive, or only the hang-up.
    expect(['AUTH', 'UNREACHABLE']).toContain(e.code);
    expect(e.message).toMatch(/client certificate .*cert\.pem/);
    expect(api.isRunning()).toBe(true);
  });

  it('with a client certificate file missing: AUTH naming the file, nothing sent', async () => {
    api.setRunning(true);
    const before = api.requests.length;
    const t = (await target(api.base, dir)) as { tls: { certFile: string } };
    t.tls.certFile = path.join(dir, 'nowhere.pem');
    const e = await failure(powerAdapter(PowerTarget.parse(t)).powerOff());
    expect(e.code).toBe('AUTH');
    expect(e.message).toMatch(/certFile .*nowhere\.pem cannot be read \(ENOENT\)/);
    expect(api.requests.length).toBe(before);
    expect(api.isRunning()).toBe(true);
  });
});
