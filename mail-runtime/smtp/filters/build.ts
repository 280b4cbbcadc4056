import type { RuntimeConfigOf } from '../../config';
import type { DNSResolver } from 'mailauth';
import { authenticationFilter } from './data.authentication';
import { clamdFilter } from './data.antivirus.clamd';
import { milterFilter } from './data.milter';
import { spamFilter } from './data.spam';
import type { Filter } from './types';

/** What buildFilters reads of a gateway's (or an all-roles member's) RuntimeConfig. */
export interface FilterConfig {
  hostname: RuntimeConfigOf<'gateway'>['hostname'];
  filters: RuntimeConfigOf<'gateway'>['filters'];
}

export interface BuildOptions {
  /** DNS for SPF/DKIM/DMARC/ARC; node:dns unless a test gives a stub. */
  resolver?: DNSResolver;
}

/**
 * The filters a gateway runs, in chain order: authentication first (its
 * Authentication-Results header belongs on every accepted message, and a
 * DMARC p=reject needs no scan), then antivirus (a virus is refused
 * whatever its spam score), then spam scoring, then the milters in their
 * configured order. The listener runs them with runFilters, phase by phase.
 */
export function buildFilters(config: FilterConfig, opts: BuildOptions = {}): Filter[] {
  const f = config.filters;
  const list: Filter[] = [];
  if (f.authentication.enabled) {
    list.push(
      authenticationFilter({
        hostname: config.hostname,
        allowlist: f.authentication.allowlist,
        timeoutMs: f.authentication.timeoutMs,
        lookupTimeoutMs: f.authentication.lookupTimeoutMs,
        onError: f.authentication.onError,
        ...(opts.resolver ? { resolver: opts.resolver } : {}),
      }),
    );
  }
  if (f.clamd) list.push(clamdFilter({ address: f.clamd.address, streamMaxBytes: f.clamd.streamMaxBytes, timeoutMs: f.clamd.timeoutMs, onError: f.clamd.onError }));
  if (f.spam) {
    list.push(
      spamFilter({
        kind: f.spam.kind,
        address: f.spam.address,
        rejectScore: f.spam.rejectScore,
        junkScore: f.spam.junkScore,
        timeoutMs: f.spam.timeoutMs,
        onError: f.spam.onError,
        hostname: config.hostname,
      }),
    );
  }
  for (const m of f.milters) list.push(milterFilter({ name: m.name, address: m.address, hostname: config.hostname, timeoutMs: m.timeoutMs, onError: m.onError }));
  return list;
}
