import { gunzipSync } from 'node:zlib';
import YAML from 'yaml';
import { entries, isRecord, items, read, str } from './walk';

/**
 * The texts a resource carries, including the ones wrapped in another
 * format: base64 (vSphere guestinfo, Docker uploads, cloud-init `b64`),
 * gzip+base64, `#cloud-config` YAML documents and JSON documents (a member's
 * RuntimeConfig inside a ConfigMap or a cloud-init write_files entry).
 *
 * Policies scan these for what must not be there (a private key in a
 * ConfigMap) or must be (a member config with TLS).
 */

export interface Text {
  /** Where it was found: property path, with `→` for each unwrapped layer. */
  path: string;
  text: string;
}

const MAX_TEXTS = 5_000;
const MAX_DEPTH = 24;
const MAX_DECODED = 4 * 1024 * 1024;

function decodeBase64(s: string): string | undefined {
  const compact = s.replace(/\s+/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return undefined;
  const buf = Buffer.from(compact, 'base64');
  if (buf.length > MAX_DECODED) return undefined;
  // gzip magic: cloud-init accepts gzip-compressed user data (encoding gz+b64).
  if (buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      return gunzipSync(buf, { maxOutputLength: MAX_DECODED }).toString('utf8');
    } catch {
      return undefined;
    }
  }
  const text = buf.toString('utf8');
  // Only keep decodings that are text: base64 of binary is not a config.
  return /^[\x09\x0a\x0d\x20-\x7e\u00a0-\uffff]*$/.test(text) ? text : undefined;
}

/** Keys whose value is base64 by contract. */
function isBase64Key(key: string): boolean {
  return /base64$/i.test(key);
}

/** Sibling `encoding` keys that announce base64 content (cloud-init write_files; vSphere guestinfo `<key>.encoding`). */
function announcedBase64(obj: Record<string, unknown>, key: string): boolean {
  const own = str(read(obj, `${key}.encoding`));
  if (own && /(^|\+)(b64|base64)$/i.test(own)) return true;
  if (key === 'content') {
    const enc = str(read(obj, 'encoding'));
    if (enc && /(b64|base64)/i.test(enc)) return true;
  }
  return false;
}

/**
 * What one string unwraps into, with paths relative to it. Cached by content:
 * every policy scans the same user data and configs, and parsing YAML is the
 * expensive part of a run. Bounded, and parsed values are never handed out
 * (only strings), so a cached entry cannot be changed by a caller.
 */
const expansions = new Map<string, Text[]>();
const MAX_CACHED = 2_000;
const MIN_DOCUMENT = 16;

function expansionsOf(text: string, depth: number): Text[] {
  const cached = expansions.get(text);
  if (cached) return cached;
  const out: Text[] = [];
  if (depth < MAX_DEPTH && text.length >= MIN_DOCUMENT && text.length < MAX_DECODED) {
    const trimmed = text.trimStart();
    if (trimmed.startsWith('#cloud-config')) {
      try {
        collect(YAML.parse(text), '→cloud-config', out, depth + 1);
      } catch {
        // Not valid YAML: the raw text is all there is.
      }
    } else if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
      try {
        collect(JSON.parse(text), '→json', out, depth + 1);
      } catch {
        // Not JSON.
      }
    }
  }
  if (expansions.size >= MAX_CACHED) expansions.clear();
  expansions.set(text, out);
  return out;
}

function expand(text: string, path: string, out: Text[], depth: number): void {
  if (out.length >= MAX_TEXTS) return;
  out.push({ path, text });
  for (const t of expansionsOf(text, depth)) {
    if (out.length >= MAX_TEXTS) return;
    out.push({ path: `${path}${t.path}`, text: t.text });
  }
}

function collect(value: unknown, path: string, out: Text[], depth: number): void {
  if (out.length >= MAX_TEXTS || depth > MAX_DEPTH) return;
  if (typeof value === 'string') {
    expand(value, path || '(value)', out, depth);
    return;
  }
  if (Array.isArray(value)) {
    items(value).forEach((x, i) => collect(x, `${path}[${i}]`, out, depth + 1));
    return;
  }
  if (!isRecord(value)) return;
  for (const [k, v] of entries(value)) {
    const p = path ? `${path}.${k}` : k;
    if (typeof v === 'string' && (isBase64Key(k) || announcedBase64(value, k))) {
      const decoded = decodeBase64(v);
      if (decoded !== undefined) {
        out.push({ path: p, text: v });
        expand(decoded, `${p}→base64`, out, depth + 1);
        continue;
      }
    }
    collect(v, p, out, depth + 1);
  }
}

/** Every text in `props`, unwrapped layer by layer. */
export function textsOf(props: unknown): Text[] {
  const out: Text[] = [];
  collect(props, '', out, 0);
  return out;
}

/** A member RuntimeConfig found inside a resource (ConfigMap data, cloud-init write_files...). */
export interface FoundRuntimeConfig {
  path: string;
  config: Record<string, unknown>;
}

function looksLikeRuntimeConfig(v: unknown): v is Record<string, unknown> {
  return isRecord(v) && typeof v.memberId === 'string' && typeof v.role === 'string' && typeof v.cluster === 'string' && isRecord(v.listen);
}

/** The member RuntimeConfigs a resource ships (JSON documents with role, memberId, cluster and listen). */
export function runtimeConfigsOf(props: unknown): FoundRuntimeConfig[] {
  const found: FoundRuntimeConfig[] = [];
  for (const t of textsOf(props)) {
    const trimmed = t.text.trimStart();
    if (!trimmed.startsWith('{') || !trimmed.includes('"memberId"')) continue;
    try {
      const doc: unknown = JSON.parse(t.text);
      if (looksLikeRuntimeConfig(doc)) found.push({ path: t.path, config: doc });
    } catch {
      // not JSON
    }
  }
  return found;
}

/** PEM private key blocks (PKCS#1, PKCS#8, EC, OpenSSH, encrypted). */
export const PRIVATE_KEY_PEM = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;
