import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { z } from 'zod';
import { monotonicMs } from '../common/clock';
import type { Logger } from '../common/log';
import {
  CLUSTER_PROTOCOL_VERSION,
  HeartbeatResponse,
  PlacementSnapshot,
  RegisterResponse,
  StreamEvent,
  type ClusterTiming,
  type RegisterRequest,
  type SettingsSnapshot,
} from '../hub/protocol';
import { LineSplitter } from '../net';
import type { PlacementCache } from './placement-cache';

/** A stream line longer than this is not a placement we can use; the stream is dropped and opened again. */
const MAX_STREAM_LINE_BYTES = 64 * 1024 * 1024;
/** JSON answers of the hub are bounded too (a placement snapshot with its history is the largest). */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
/** Each call to the hub gives up after this long; the link then tries the next hub URL. */
const CALL_TIMEOUT_MS = 5000;
/** Between attempts while no hub answers: short first, then capped (a hub restart takes seconds). */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;

export interface HubLinkOptions {
  /** Hub base URLs in the order to try (config `hubUrls`, else `hubUrl`). */
  urls: string[];
  token: string;
  /** PEM of the cluster CA for https hub URLs. */
  ca?: string;
  register: Omit<RegisterRequest, 'protocol' | 'incarnation'>;
  cache: PlacementCache;
  log: Logger;
  /** Figures sent with each heartbeat (hub/protocol MemberStats; the dashboard charts them). */
  stats?: () => Record<string, number>;
  /**
   * Applies cluster settings live (a gateway: ./settings.ts appliers); the
   * version it resolved for is reported as applied in every heartbeat.
   * Absent: the member applies none and reports version 0.
   */
  settings?: (snapshot: SettingsSnapshot) => Promise<void>;
  /** The hub assigns this member a gone gateway's queue folder at an epoch (hub/queues). */
  queue?: (folder: string, epoch: number) => Promise<void>;
}

class HubCallError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly activeUrl?: string,
  ) {
    super(message);
  }
}

/**
 * The link to the hub of a member that owns no mailbox (proxy, gateway):
 * register as a member, heartbeat, hold the NDJSON stream
 * (hub/protocol/cluster.ts) and feed every placement it announces to the
 * cache. Such a member needs no lease: while no hub answers it keeps
 * routing from the cache and keeps trying, following a standby's
 * `not_active` answer to the active hub.
 */
export class HubLink {
  private urlIndex = 0;
  private incarnation: number | undefined;
  private timing: ClusterTiming | undefined;
  private counter = 0;
  private stopped = false;
  private streamReq: { destroy(): void } | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  /** Monotonic ms of the last answer from a hub (for /metrics and readiness). */
  lastContact: number | null = null;
  /** Settings version last received from the hub, and the one applied (reported in heartbeats). */
  private settingsSeen = -1;
  private settingsApplied = 0;
  /** Settings and queue work, one at a time in arrival order. */
  private work: Promise<void> = Promise.resolve();

  constructor(private readonly o: HubLinkOptions) {
    if (o.urls.length === 0) throw new Error('HubLink needs at least one hub URL');
  }

  get connected(): boolean {
    return this.streamReq !== undefined;
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.heartbeatTimer);
    this.streamReq?.destroy();
    await this.loop;
  }

  private get url(): string {
    return this.o.urls[this.urlIndex % this.o.urls.length]!;
  }

  /** Register, then hold the stream; on any failure start over at the next URL (bounded backoff). */
  private async run(): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (!this.stopped) {
      try {
        await this.register();
        delay = RETRY_MIN_MS;
        this.scheduleHeartbeat();
        await this.stream();
      } catch (err) {
        if (this.stopped) break;
        const e = err as HubCallError;
        if (e.activeUrl) {
          // A standby named the active hub: go there next (added to the list if it was not in it).
          let i = this.o.urls.indexOf(e.activeUrl);
          if (i < 0) i = this.o.urls.push(e.activeUrl) - 1;
          this.urlIndex = i;
        } else {
          this.urlIndex++;
        }
        this.o.log.debug({ err: e.message, next: this.url }, 'hub link: retrying');
      }
      clearTimeout(this.heartbeatTimer);
      if (this.stopped) break;
      await new Promise((r) => setTimeout(r, delay).unref());
      delay = Math.min(RETRY_MAX_MS, delay * 2);
    }
  }

  private async register(): Promise<void> {
    const body: RegisterRequest = { protocol: CLUSTER_PROTOCOL_VERSION, ...this.o.register, ...(this.incarnation !== undefined ? { incarnation: this.incarnation } : {}) };
    const res = await this.call('POST', '/v1/cluster/register', RegisterResponse, body);
    this.incarnation = res.incarnation;
    this.timing = res.timing;
    await this.o.cache.apply(res.placement);
    this.applySettings(res.settings);
    this.o.log.info({ hub: res.hub.url, incarnation: res.incarnation, placementVersion: res.placement.version }, 'registered with the hub');
  }

  private scheduleHeartbeat(): void {
    clearTimeout(this.heartbeatTimer);
    if (this.stopped || !this.timing) return;
    this.heartbeatTimer = setTimeout(() => void this.heartbeat(), this.timing.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  private async heartbeat(): Promise<void> {
    if (this.incarnation === undefined) return;
    try {
      const res = await this.call('POST', '/v1/cluster/heartbeat', HeartbeatResponse, {
        memberId: this.o.register.memberId,
        incarnation: this.incarnation,
        counter: ++this.counter,
        applied: { placement: Math.max(0, this.o.cache.version), settings: this.settingsApplied },
        ...(this.o.stats ? { stats: this.o.stats() } : {}),
      });
      // A placement event may have been missed (a stream reconnect): fetch the snapshot.
      if (res.placementVersion > this.o.cache.version) await this.o.cache.apply(await this.call('GET', '/v1/cluster/placement', PlacementSnapshot));
      // A settings event was missed: registering again (the same incarnation resumes) brings the current ones.
      if (this.o.settings && res.settingsVersion > this.settingsSeen) this.streamReq?.destroy();
    } catch (err) {
      // 409: the hub declared us dead or forgot us; the stream ends too and the loop registers again.
      if ((err as HubCallError).status === 409) this.streamReq?.destroy();
      this.o.log.debug({ err: (err as Error).message }, 'hub link: heartbeat failed');
    }
    this.scheduleHeartbeat();
  }

  /** Holds the stream until it ends; resolves on a clean end, rejects on errors. */
  private stream(): Promise<void> {
    const url = new URL(`${this.url}/v1/cluster/stream`);
    url.searchParams.set('member', this.o.register.memberId);
    url.searchParams.set('incarnation', String(this.incarnation));
    return new Promise<void>((resolve, reject) => {
      let pending = Promise.resolve();
      const splitter = new LineSplitter(
        MAX_STREAM_LINE_BYTES,
        (line) => {
          if (!line.trim()) return;
          let json: unknown;
          try {
            json = JSON.parse(line);
          } catch {
            this.o.log.warn('hub stream: a line that is not JSON; ignored');
            return;
          }
          const ev = StreamEvent.safeParse(json);
          // A newer hub may send event types we do not know (additive changes): skip them.
          if (!ev.success) return;
          this.lastContact = monotonicMs();
          const e = ev.data;
          if (e.type === 'placement') pending = pending.then(() => this.o.cache.apply(e.snapshot).then(() => undefined));
          else if (e.type === 'settings') this.applySettings(e.settings);
          else if (e.type === 'queue') this.takeQueue(e.folder, e.epoch);
          else if (e.type === 'fenced') {
            this.o.log.warn({ reason: e.reason }, 'hub declared this proxy dead; registering again');
            this.incarnation = undefined;
            req.destroy();
          }
        },
        () => {
          req.destroy(new Error('hub stream line too long'));
        },
      );
      const req = this.open('GET', url, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new HubCallError(`stream answered ${res.statusCode}`, res.statusCode ?? 0));
          return;
        }
        this.streamReq = req;
        res.on('data', (d: Buffer) => splitter.push(d));
        res.once('end', () => {
          this.streamReq = undefined;
          void pending.then(() => resolve());
        });
        res.once('error', (err) => {
          this.streamReq = undefined;
          reject(err);
        });
      });
      req.once('error', (err) => {
        this.streamReq = undefined;
        reject(err);
      });
      req.once('close', () => {
        this.streamReq = undefined;
        resolve();
      });
      req.end();
    });
  }

  /** Applies a settings snapshot after whatever is queued; a failure keeps the previous applied version (logged). */
  private applySettings(snapshot: SettingsSnapshot): void {
    const apply = this.o.settings;
    if (!apply || snapshot.version < this.settingsSeen) return;
    this.settingsSeen = snapshot.version;
    this.work = this.work.then(async () => {
      try {
        await apply(snapshot);
        this.settingsApplied = snapshot.version;
        this.o.log.info({ version: snapshot.version }, 'cluster settings applied');
      } catch (err) {
        this.o.log.error({ err, version: snapshot.version }, 'applying cluster settings failed; keeping the previous ones');
      }
    });
  }

  private takeQueue(folder: string, epoch: number): void {
    const take = this.o.queue;
    if (!take) return;
    this.work = this.work.then(() => take(folder, epoch).catch((err: unknown) => this.o.log.error({ err, folder, epoch }, 'taking over a queue folder failed')));
  }

  private open(method: string, url: URL, onResponse: (res: IncomingMessage) => void, timeoutMs?: number) {
    const opts = {
      method,
      headers: { authorization: `Bearer ${this.o.token}`, accept: 'application/json, application/x-ndjson', 'content-type': 'application/json' },
      ...(timeoutMs ? { timeout: timeoutMs } : {}),
      ...(url.protocol === 'https:' && this.o.ca ? { ca: this.o.ca } : {}),
    };
    return url.protocol === 'https:' ? httpsRequest(url, opts, onResponse) : httpRequest(url, opts, onResponse);
  }

  /** One JSON call to the current hub, its answer checked by `schema`. */
  private call<S extends z.ZodType>(method: string, path: string, schema: S, body?: unknown): Promise<z.output<S>> {
    const url = new URL(`${this.url}${path}`);
    return new Promise((resolve, reject) => {
      const req = this.open(
        method,
        url,
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (d: Buffer) => {
            size += d.length;
            if (size > MAX_ANSWER_BYTES) req.destroy(new Error('hub answer too large'));
            else chunks.push(d);
          });
          res.once('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              reject(new HubCallError(`${path}: answer is not JSON (${res.statusCode})`, res.statusCode ?? 0));
              return;
            }
            if (res.statusCode !== 200) {
              const err = (json as { error?: { code?: string; message?: string; active?: string } } | undefined)?.error;
              reject(new HubCallError(`${path}: ${res.statusCode} ${err?.code ?? ''} ${err?.message ?? ''}`, res.statusCode ?? 0, err?.active));
              return;
            }
            const parsed = schema.safeParse(json);
            if (!parsed.success) {
              reject(new HubCallError(`${path}: answer does not match the protocol: ${parsed.error.issues[0]?.message ?? ''}`, 0));
              return;
            }
            this.lastContact = monotonicMs();
            resolve(parsed.data);
          });
          res.once('error', reject);
        },
        CALL_TIMEOUT_MS,
      );
      req.once('timeout', () => req.destroy(new Error(`${path}: no answer within ${CALL_TIMEOUT_MS} ms`)));
      req.once('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }
}
