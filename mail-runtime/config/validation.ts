import { z } from 'zod';

/**
 * Validation helpers shared by the runtime config (this folder) and the
 * topology spec (components/spec.ts). They live on the runtime side because
 * the dependency arrow points stacks → components → mail-runtime/config.
 */

/**
 * A strict object: unknown keys are an error that lists the keys allowed at
 * that level, so a typo (`gatways:`) is reported with its correction at hand.
 */
export function strict<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}; allowed here: ${allowed}`
        : undefined,
  });
}

/** One readable line per problem: `path: what is wrong (what is allowed)`. */
export interface FieldProblem {
  path: string;
  message: string;
}

export function pathToString(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(top level)';
}

/** Flattens zod issues (including those nested in unions) into field problems. */
export function problemsFromZod(error: z.ZodError): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const visit = (issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[]) => {
    for (const issue of issues) {
      const path = [...prefix, ...issue.path];
      if (issue.code === 'unrecognized_keys') {
        // Report each unknown key at its own path so the user can find it.
        for (const key of issue.keys) problems.push({ path: pathToString([...path, key]), message: issue.message });
        continue;
      }
      if (issue.code === 'invalid_union' && issue.errors.length > 0) {
        // A union whose alternatives all failed: report the alternative that got
        // furthest (fewest problems), which is almost always the one meant.
        const best = [...issue.errors].sort((a, b) => a.length - b.length)[0]!;
        visit(best, path);
        continue;
      }
      problems.push({ path: pathToString(path), message: issue.message });
    }
  };
  visit(error.issues, []);
  return problems;
}

/**
 * Input with one or more bad fields. `problems` holds every bad field;
 * `message` lists them one per line. Each boundary has its own subclass
 * (topology spec, runtime config, config file) so callers can tell them apart.
 */
export class FieldProblemsError extends Error {
  readonly problems: readonly FieldProblem[];
  constructor(what: string, problems: readonly FieldProblem[]) {
    super(`${what} is invalid:\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n')}`);
    this.name = new.target.name;
    this.problems = problems;
  }
}

/** A config file (runtime config or topology spec) that cannot be read or parsed. */
export class ConfigFileError extends FieldProblemsError {}

/** A RuntimeConfig (file, MAILFLEET_* variables, or rendered) that the runtime would reject. */
export class RuntimeConfigError extends FieldProblemsError {}

/** DNS label (RFC 1123 §2.1): used for names that become host and resource names. */
export const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a lowercase DNS label: a-z, 0-9 and "-", at most 63 characters, not starting or ending with "-"');

/** A fully qualified domain name (RFC 1035 §2.3.1 preferred syntax, lowercased). */
export const domainName = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(
    z
      .string()
      .max(253, 'a domain name is at most 253 characters')
      .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/, 'must be a domain name such as example.com'),
  );

export const port = z.number().int().min(1, 'a port is 1–65535').max(65535, 'a port is 1–65535');

/** `host:port` or `[v6]:port`, the form clamd/spamd/rspamd addresses take in configs. */
export const hostPort = z.string().refine((s) => {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):([0-9]{1,5})$/.exec(s);
  return m !== null && Number(m[2]) >= 1 && Number(m[2]) <= 65535;
}, 'must be host:port with a port 1–65535, for example 10.0.0.5:3310 or clamav.mail.svc:3310');

/** IPv4 CIDR such as 10.0.0.0/24. */
export const ipv4Cidr = z
  .string()
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/, 'must be an IPv4 CIDR such as 10.20.0.0/24')
  .refine((s) => {
    const [ip, bits] = s.split('/') as [string, string];
    return ip.split('.').every((o) => Number(o) <= 255) && Number(bits) <= 32;
  }, 'octets must be 0–255 and the prefix 0–32');

export const ipv4 = z
  .string()
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/, 'must be an IPv4 address such as 10.20.0.10')
  .refine((s) => s.split('.').every((o) => Number(o) <= 255), 'octets must be 0–255');

export function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** True when `ip` lies in `cidr`. */
export function cidrContains(cidr: string, ip: string): boolean {
  const [base, bitsText] = cidr.split('/') as [string, string];
  const bits = Number(bitsText);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((ipv4ToInt(base) & mask) >>> 0) === ((ipv4ToInt(ip) & mask) >>> 0);
}

/** RFC 1918 private ranges plus loopback: the only networks a relay list may name. */
export function isPrivateCidr(cidr: string): boolean {
  const [base, bitsText] = cidr.split('/') as [string, string];
  const bits = Number(bitsText);
  const ranges: Array<[string, number]> = [
    ['10.0.0.0', 8],
    ['172.16.0.0', 12],
    ['192.168.0.0', 16],
    ['127.0.0.0', 8],
  ];
  return ranges.some(([net, prefix]) => bits >= prefix && cidrContains(`${net}/${prefix}`, base));
}
