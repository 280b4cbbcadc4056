import type { StackValidationArgs } from '@pulumi/policy';
import { isRecord } from './walk';

/**
 * A policy's knobs: the defaults written in the policy, overlaid with what the
 * stack's policy config file sets (`{ "<policy>": { "enforcementLevel": ..., "<knob>": ... } }`).
 * Nested objects merge one level deep, so a config may set one role's minimum
 * and keep the others.
 */
export function configOf<T extends Record<string, unknown>>(args: Pick<StackValidationArgs, 'getConfig'>, defaults: T): T {
  const given = args.getConfig<Record<string, unknown>>() ?? {};
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(given)) {
    if (k === 'enforcementLevel' || v === undefined) continue;
    const d = (defaults as Record<string, unknown>)[k];
    out[k] = isRecord(d) && isRecord(v) ? { ...d, ...v } : v;
  }
  return out as T;
}
