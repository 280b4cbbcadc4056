import { isDeepStrictEqual } from 'node:util';
import { problemsFromZod } from '../../config';
import type { HubDb } from '../db';
import { conflict, HubError } from '../errors';
import { ClusterSettings, REDACTED, type SettingsSnapshot } from '../protocol';

/**
 * Versioned cluster settings (state.sqlite `settings`): every apply is a new
 * version, pushed to every member over its stream; members report the
 * version they applied in their heartbeats. Private keys come back redacted
 * to operators; a document sent back with `[redacted]` in a key's place
 * keeps the stored key (so get → edit → apply works without the keys).
 */
export interface SettingsChange {
  path: string;
  op: 'add' | 'remove' | 'change';
  from?: unknown;
  to?: unknown;
}

export class SettingsStore {
  private snapshot: SettingsSnapshot;

  constructor(
    private readonly db: HubDb,
    private readonly assertActive: () => void,
    private readonly onApplied: (s: SettingsSnapshot) => void = () => undefined,
  ) {
    const row = db.prepare<[], { version: number; settings: string }>('SELECT version, settings FROM settings ORDER BY version DESC LIMIT 1').get();
    this.snapshot = row ? { version: row.version, settings: ClusterSettings.parse(JSON.parse(row.settings)) } : { version: 0, settings: {} };
  }

  current(): SettingsSnapshot {
    return this.snapshot;
  }

  /** Puts stored private keys back where a document says `[redacted]`. */
  private unredact(doc: unknown): unknown {
    if (!doc || typeof doc !== 'object') return doc;
    const d = structuredClone(doc) as { tls?: { keyPem?: unknown }; dkim?: Record<string, { privateKeyPem?: unknown }> };
    const cur = this.snapshot.settings;
    if (d.tls && d.tls.keyPem === REDACTED && cur.tls) d.tls.keyPem = cur.tls.keyPem;
    if (d.dkim && typeof d.dkim === 'object') {
      for (const [dom, k] of Object.entries(d.dkim)) {
        const stored = cur.dkim?.[dom];
        if (k && typeof k === 'object' && k.privateKeyPem === REDACTED && stored) k.privateKeyPem = stored.privateKeyPem;
      }
    }
    return d;
  }

  /** Problems with a proposed document, each naming its field (`settings.limits.maxConnections`). */
  validate(doc: unknown): { ok: boolean; problems: { path: string; message: string }[]; value?: ClusterSettings } {
    const res = ClusterSettings.safeParse(this.unredact(doc));
    if (res.success) return { ok: true, problems: [], value: res.data };
    return { ok: false, problems: problemsFromZod(res.error).map((p) => ({ path: `settings.${p.path}`, message: p.message })) };
  }

  /** What applying `doc` would change, field by field (private keys shown as changed, never in clear). */
  diff(doc: unknown): { baseVersion: number; changes: SettingsChange[] } {
    const v = this.validate(doc);
    if (!v.ok) throw new HubError('bad_request', 'invalid settings', v.problems);
    const changes: SettingsChange[] = [];
    walk(this.snapshot.settings, v.value, '', changes);
    return { baseVersion: this.snapshot.version, changes: changes.map(hideKeys) };
  }

  /** Stores `doc` as the next version and pushes it; refused if `baseVersion` is given and stale. */
  apply(doc: unknown, baseVersion?: number): SettingsSnapshot {
    this.assertActive();
    const v = this.validate(doc);
    if (!v.ok) throw new HubError('bad_request', 'invalid settings', v.problems);
    if (baseVersion !== undefined && baseVersion !== this.snapshot.version) {
      throw conflict(`settings changed meanwhile: current version is ${this.snapshot.version}, not ${baseVersion}; diff again`, 'body.baseVersion');
    }
    const next: SettingsSnapshot = { version: this.snapshot.version + 1, settings: v.value! };
    this.db.prepare('INSERT INTO settings (version, settings, applied_at) VALUES (?, ?, ?)').run(next.version, JSON.stringify(next.settings), Date.now());
    this.snapshot = next;
    this.onApplied(next);
    return next;
  }
}

function walk(a: unknown, b: unknown, path: string, out: SettingsChange[]): void {
  if (isDeepStrictEqual(a, b)) return;
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  // A section added or removed whole is listed field by field, so private keys inside it are hidden too.
  if ((isObj(a) || a === undefined) && (isObj(b) || b === undefined)) {
    const x = a ?? {};
    const y = b ?? {};
    for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) walk(x[k], y[k], path ? `${path}.${k}` : k, out);
    return;
  }
  if (a === undefined) out.push({ path, op: 'add', to: b });
  else if (b === undefined) out.push({ path, op: 'remove', from: a });
  else out.push({ path, op: 'change', from: a, to: b });
}

function hideKeys(c: SettingsChange): SettingsChange {
  if (!/(keyPem|privateKeyPem)$/.test(c.path)) return c;
  return { ...c, ...(c.from !== undefined ? { from: REDACTED } : {}), ...(c.to !== undefined ? { to: REDACTED } : {}) };
}
