import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

/**
 * Local HTTP servers that speak the platform APIs our power adapters use,
 * with the paths, headers and payloads recorded in test/fixtures/power/
 * (each with its documentation reference). Each keeps the member's power
 * state, checks the credential, records every request, and can be told to
 * refuse (401/403) or to hang (never answer) to test timeouts.
 */

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface Reply {
  status: number;
  statusText?: string;
  body?: unknown;
}

export interface Fixture {
  doc: string[];
  requests: Record<string, { method: string; path: string; headers?: Record<string, string>; body?: unknown }>;
  responses: Record<string, Reply>;
}

export function fixture(platform: 'kubernetes' | 'docker' | 'proxmox' | 'vsphere'): Fixture {
  return JSON.parse(readFileSync(path.join(__dirname, '..', 'fixtures', 'power', `${platform}.json`), 'utf8')) as Fixture;
}

export type Mode = 'normal' | 'hang' | 'forbidden';

export interface FakeApi {
  /** `http://127.0.0.1:PORT` or `unix:///path`. */
  readonly base: string;
  readonly requests: Recorded[];
  mode: Mode;
  /** Status polls after a power change that still report the old state (0: the change is seen at once). */
  settlePolls: number;
  /** The platform's view of the member. */
  isRunning(): boolean;
  /** Sets the member's state, as if someone else had powered it. */
  setRunning(v: boolean): void;
  /** Called when a power request is accepted (the test starts or kills the real process behind it). */
  onPower?: (running: boolean) => void;
  close(): Promise<void>;
}

/** The member's power as the fake platform keeps it: the wanted state and, after settlePolls reads, the actual one. */
class Member {
  wanted = false;
  actual = false;
  private left = 0;
  constructor(private readonly api: () => FakeApi) {}
  want(v: boolean): void {
    if (v !== this.wanted) this.api().onPower?.(v);
    this.wanted = v;
    this.left = this.api().settlePolls;
    if (this.left === 0) this.actual = v;
  }
  /** One status read: the change completes after settlePolls reads. */
  read(): boolean {
    if (this.actual !== this.wanted) {
      if (this.left <= 0) this.actual = this.wanted;
      else this.left--;
    }
    return this.actual;
  }
  set(v: boolean): void {
    this.wanted = this.actual = v;
    this.left = 0;
  }
}

type Handler = (req: Recorded, api: FakeApi, m: Member) => Reply;

/** An HTTPS listener that requires a client certificate signed by `ca` (Docker's `--tlsverify`). */
export interface ClientCertTls {
  key: string;
  cert: string;
  ca: string;
}

async function serve(handler: Handler, listenOn: { socketPath?: string; tls?: ClientCertTls } = {}): Promise<FakeApi> {
  const hanging = new Set<http.ServerResponse>();
  const member: Member = new Member(() => api);
  const api: FakeApi = {
    base: '',
    requests: [],
    mode: 'normal',
    settlePolls: 0,
    isRunning: () => member.actual,
    setRunning: (v) => member.set(v),
    close: async () => {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: Recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      api.requests.push(rec);
      if (api.mode === 'hang') {
        hanging.add(res);
        return;
      }
      const r = handler(rec, api, member);
      if (r.body === undefined) {
        res.writeHead(r.status, r.statusText).end();
        return;
      }
      res.writeHead(r.status, r.statusText, { 'content-type': 'application/json' }).end(JSON.stringify(r.body));
    });
  };
  // requestCert + rejectUnauthorized: a client without a certificate the CA signed never gets to send a request.
  const server = listenOn.tls
    ? https.createServer({ key: listenOn.tls.key, cert: listenOn.tls.cert, ca: listenOn.tls.ca, requestCert: true, rejectUnauthorized: true }, onRequest)
    : http.createServer(onRequest);
  if (listenOn.socketPath) {
    await new Promise<void>((resolve) => server.listen(listenOn.socketPath, resolve));
    (api as { base: string }).base = `unix://${listenOn.socketPath}`;
  } else {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    (api as { base: string }).base = `${listenOn.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  return api;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const r = (f: Fixture, name: string): Reply => {
  const reply = f.responses[name];
  if (!reply) throw new Error(`fixture has no response ${name}`);
  return clone(reply);
};

/** Kubernetes API server: the `scale` subresource of StatefulSet `pair-all-1` (and a Deployment of that name) in namespace `mail`. */
export function fakeKubernetes(token: string): Promise<FakeApi> {
  const f = fixture('kubernetes');
  return serve((req, api, m) => {
    if (req.headers.authorization !== `Bearer ${token}`) return r(f, 'unauthorized');
    const p = /^\/apis\/apps\/v1\/namespaces\/mail\/(statefulsets|deployments)\/pair-all-1\/scale$/.exec(req.url);
    if (!p) return r(f, 'notFound');
    if (api.mode === 'forbidden') return r(f, 'forbidden');
    if (req.method === 'PATCH') {
      if (req.headers['content-type'] !== 'application/merge-patch+json') return { status: 415, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'unsupported media type', reason: 'UnsupportedMediaType', code: 415 } };
      m.want((JSON.parse(req.body) as { spec: { replicas: number } }).spec.replicas > 0);
    } else if (req.method !== 'GET') {
      return { status: 405, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'method not allowed', reason: 'MethodNotAllowed', code: 405 } };
    }
    const running = req.method === 'GET' ? m.read() : m.actual;
    const reply = r(f, 'scale');
    const body = reply.body as { spec: { replicas: number }; status: { replicas: number } };
    body.spec.replicas = m.wanted ? 1 : 0;
    body.status.replicas = running ? 1 : 0;
    return reply;
  });
}

/**
 * Docker Engine on a unix socket, or on TCP with `--tlsverify` (`{ tls }`:
 * HTTPS that requires a client certificate from the engine's CA):
 * container `pair-all-1`. The engine has no credentials of its own (access
 * to the socket, or a client certificate, is the grant).
 */
export function fakeDocker(listen: string | { tls: ClientCertTls }): Promise<FakeApi> {
  const f = fixture('docker');
  return serve(
    (req, api, m) => {
      const p = /^\/v1\.\d+\/containers\/([^/]+)\/(json|start|stop)(\?.*)?$/.exec(req.url);
      if (!p || p[1] !== 'pair-all-1') return r(f, 'noSuchContainer');
      if (api.mode === 'forbidden') return { status: 403, body: { message: 'authorization denied by plugin mailfleet-authz: request rejected' } };
      if (p[2] === 'json' && req.method === 'GET') {
        const running = m.read();
        const reply = r(f, 'inspect');
        const st = (reply.body as { State: { Status: string; Running: boolean } }).State;
        st.Status = running ? 'running' : m.wanted ? 'created' : 'exited';
        st.Running = running;
        return reply;
      }
      if (req.method !== 'POST') return { status: 405, body: { message: 'method not allowed' } };
      const want = p[2] === 'start';
      if (m.wanted === want && m.actual === want) return r(f, 'notModified');
      m.want(want);
      // The engine answers stop only once the container has exited.
      if (!want) m.set(false);
      return r(f, 'noContent');
    },
    typeof listen === 'string' ? { socketPath: listen } : { tls: listen.tls },
  );
}

/** Proxmox VE: VM 201 on node pve2, API token `failover@pve!controller`. */
export function fakeProxmox(tokenSecret: string): Promise<FakeApi> {
  const f = fixture('proxmox');
  return serve((req, api, m) => {
    const auth = req.headers.authorization;
    if (!auth) return r(f, 'noTicket');
    if (auth !== `PVEAPIToken=failover@pve!controller=${tokenSecret}`) return r(f, 'authFailure');
    const p = /^\/api2\/json\/nodes\/pve2\/qemu\/(\d+)\/status\/(current|start|stop|shutdown)$/.exec(req.url);
    if (!p || p[1] !== '201') return r(f, 'noSuchVm');
    if (p[2] === 'current' && req.method === 'GET') {
      const running = m.read();
      const reply = r(f, 'current');
      const d = (reply.body as { data: { status: string; qmpstatus: string; uptime: number } }).data;
      d.status = d.qmpstatus = running ? 'running' : 'stopped';
      d.uptime = running ? 42 : 0;
      return reply;
    }
    if (req.method !== 'POST') return { status: 501, statusText: `Method '${req.method} ${req.url}' not implemented`, body: { data: null } };
    if (api.mode === 'forbidden') return r(f, 'permission');
    if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') return { status: 400, statusText: 'Parameter verification failed.', body: { data: null } };
    m.want(p[2] === 'start');
    const reply = r(f, 'task');
    reply.body = { data: String((reply.body as { data: string }).data).replace('qmstart', `qm${p[2]}`) };
    return reply;
  });
}

/** vCenter: VM vm-2042, user failover@vsphere.local. */
export function fakeVsphere(password: string): Promise<FakeApi & { sessions: Set<string> }> {
  const f = fixture('vsphere');
  const sessions = new Set<string>();
  let n = 0;
  return serve((req, api, m) => {
    if (req.url === '/api/session' && req.method === 'POST') {
      const want = `Basic ${Buffer.from(`failover@vsphere.local:${password}`).toString('base64')}`;
      if (req.headers.authorization !== want) return r(f, 'unauthenticated');
      const id = `${String((r(f, 'session').body))}${n++}`;
      sessions.add(id);
      return { status: 201, body: id };
    }
    const sid = req.headers['vmware-api-session-id'];
    if (typeof sid !== 'string' || !sessions.has(sid)) return r(f, 'unauthenticated');
    if (req.url === '/api/session' && req.method === 'DELETE') {
      sessions.delete(sid);
      return r(f, 'noContent');
    }
    const p = /^\/api\/vcenter\/vm\/([^/?]+)\/power(?:\?action=(start|stop))?$/.exec(req.url);
    if (!p || p[1] !== 'vm-2042') return r(f, 'notFound');
    if (req.method === 'GET' && !p[2]) {
      const reply = r(f, 'power');
      (reply.body as { state: string }).state = m.read() ? 'POWERED_ON' : 'POWERED_OFF';
      return reply;
    }
    if (req.method !== 'POST' || !p[2]) return { status: 405, body: { error_type: 'OPERATION_NOT_FOUND', messages: [] } };
    if (api.mode === 'forbidden') return r(f, 'unauthorized');
    const want = p[2] === 'start';
    if (m.wanted === want && m.actual === want) {
      const reply = r(f, 'alreadyInState');
      return reply;
    }
    m.want(want);
    return r(f, 'noContent');
  }).then((api) => Object.assign(api, { sessions }));
}
