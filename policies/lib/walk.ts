/**
 * Safe reading of resource properties inside a policy.
 *
 * During `pulumi preview` the engine hands policies a proxy that throws
 * `UnknownValueError` when a value is not known yet (an IP a provider assigns,
 * a generated password). A policy that lets that error escape is reported as
 * "can't run during preview" for the whole stack; these helpers treat an
 * unknown value as absent instead, so the rest of the rule still runs.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isUnknownError(err: unknown): boolean {
  return err instanceof Error && (err.constructor?.name === 'UnknownValueError' || err.name === 'UnknownValueError');
}

/** Reads `obj[key]`, or undefined when it is unknown (preview) or `obj` is not an object. */
export function read(obj: unknown, key: string | number): unknown {
  if (obj === null || typeof obj !== 'object') return undefined;
  try {
    return (obj as Record<string | number, unknown>)[key];
  } catch (err) {
    if (isUnknownError(err)) return undefined;
    throw err;
  }
}

/** Reads a nested path (`at(pod, 'spec', 'containers')`). */
export function at(obj: unknown, ...path: (string | number)[]): unknown {
  let cur = obj;
  for (const key of path) {
    cur = read(cur, key);
    if (cur === undefined) return undefined;
  }
  return cur;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Keys of an object (own, enumerable), or none. */
export function keys(obj: unknown): string[] {
  if (obj === null || typeof obj !== 'object') return [];
  try {
    return Object.keys(obj);
  } catch (err) {
    if (isUnknownError(err)) return [];
    throw err;
  }
}

/** `[key, value]` pairs, skipping unknown values. */
export function entries(obj: unknown): Array<[string, unknown]> {
  return keys(obj)
    .map((k) => [k, read(obj, k)] as [string, unknown])
    .filter(([, v]) => v !== undefined);
}

/** Array items (skipping unknown ones), or none when `v` is not an array. */
export function items(v: unknown): unknown[] {
  if (!Array.isArray(v)) return [];
  const out: unknown[] = [];
  for (let i = 0; i < v.length; i++) {
    const x = read(v, i);
    if (x !== undefined) out.push(x);
  }
  return out;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim())) return Number(v);
  return undefined;
}

/** Every string leaf with its path (`a.b[0].c`), bounded in depth and count. */
export function stringLeaves(value: unknown, prefix = '', out: Array<{ path: string; value: string }> = [], depth = 0): Array<{ path: string; value: string }> {
  if (depth > 32 || out.length > 10_000) return out;
  if (typeof value === 'string') {
    out.push({ path: prefix || '(value)', value });
  } else if (Array.isArray(value)) {
    items(value).forEach((x, i) => stringLeaves(x, `${prefix}[${i}]`, out, depth + 1));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, x] of entries(value)) stringLeaves(x, prefix ? `${prefix}.${k}` : k, out, depth + 1);
  }
  return out;
}
