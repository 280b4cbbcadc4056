import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';

export interface HealthServerOptions {
  host: string;
  port: number;
  /** Ready to serve the role (stores open, listeners up); `/readyz` answers 503 until true. */
  ready: () => boolean | Promise<boolean>;
  /** Registry to expose on `/metrics`; a fresh one with default process metrics when absent. */
  registry?: Registry;
  /** Extra fields for the JSON body of `/healthz` and `/readyz` (role, member id). */
  info?: Record<string, string>;
}

export interface HealthServer {
  readonly port: number;
  readonly registry: Registry;
  close(): Promise<void>;
}

/** Makes a registry with the process default metrics and the given labels on every series. */
export function createRegistry(labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * The management port every member serves: `GET /healthz` (process alive),
 * `GET /readyz` (ready for its role), `GET /metrics` (Prometheus text format).
 * Probes, load balancers and the launcher use these.
 */
export function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const registry = opts.registry ?? createRegistry();
  const json = (res: ServerResponse, status: number, body: Record<string, unknown>): void => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' });
      res.end();
      return;
    }
    if (path === '/healthz') return json(res, 200, { status: 'ok', ...opts.info });
    if (path === '/readyz') {
      let ready: boolean;
      try {
        ready = await opts.ready();
      } catch {
        ready = false;
      }
      return json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', ...opts.info });
    }
    if (path === '/metrics') {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(text);
      return;
    }
    json(res, 404, { error: 'not found' });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.removeListener('error', reject);
      const addr = server.address();
      resolve({
        port: typeof addr === 'object' && addr ? addr.port : opts.port,
        registry,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
