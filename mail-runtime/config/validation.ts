import { z } from 'zod';

/**
 * Validation helpers shared by the runtime config (this folder) and the
 * topology spec (components/spec.ts). They live on the runtime side because
 * the dependency arrow points stacks → components → mail-runtime/config.
 */

/** What a strict object's unknown-key message says before the list of allowed keys (problemsFromZod reads it back). */
const ALLOWED_HERE = 'allowed here: ';

/**
 * A strict object: unknown keys are an error that lists the keys allowed at
 * that level, so a typo (`gatways:`) is reported with its correction at hand
 * (problemsFromZod adds "did you mean" per key).
 */
export function strict<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown field; ${ALLOWED_HERE}${allowed}` : undefined),
  });
}

/** One readable line per problem: `path: what is wrong (what is allowed)`. */
export interface FieldProblem {
  path: string;
  message: string;
}

/**
 * `platform.network.cidr`, `domains[0].name`; a key that is not a plain name
 * (a Kubernetes label key such as `app.kubernetes.io/name`) is quoted so its
 * dots are not read as nesting: `platform.labels["app.kubernetes.io/name"]`.
 */
export function pathToString(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && !/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(part)) out += `[${JSON.stringify(part)}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(top level)';
}

// ---------------------------------------------------------------------------
// zod's issues in plain words. zod's own English ("Invalid input: expected
// int, received number", "Too small: expected number to be >=1") is written
// for developers; the people reading these messages write YAML. Every issue
// whose message is still zod's default is reworded here from the issue's
// code and fields; messages a schema sets itself are kept as written.

type Issue = z.core.$ZodIssue;

const zodEnglish = z.locales.en().localeError;

/** zod's parsed type names → what a YAML author calls them. */
const TYPE_WORDS: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  bigint: 'a whole number',
  nan: 'not a number (NaN)',
  boolean: 'true or false',
  array: 'a list',
  tuple: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  map: 'a mapping',
  set: 'a list',
  date: 'a date',
  null: 'empty (null)',
  undefined: 'absent',
  never: 'absent',
  function: 'a function',
  symbol: 'a symbol',
};

/** How zod names the type of a value (its util.parsedType), without reaching into zod internals. */
function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isNaN(v) ? 'nan' : 'number';
  return typeof v;
}

const words = (type: string) => TYPE_WORDS[type] ?? type;

/** A short rendering of a value the user wrote, or undefined when it is not worth quoting (objects, long text). */
function quote(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length <= 60 ? JSON.stringify(v) : undefined;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return undefined;
}

const listOf = (values: readonly unknown[]) => values.map((v) => (typeof v === 'string' ? v : String(v))).join(', ');

/** True when the issue still carries zod's default English text (no schema chose a message). */
function isZodDefault(issue: Issue): boolean {
  if (issue.code === 'invalid_type') return /^Invalid input: expected \S+, received \S+$/.test(issue.message);
  const text = zodEnglish(issue as never);
  return issue.message === (typeof text === 'string' ? text : text?.message);
}

/**
 * The value the issue is about, when the parse kept it (`reportInput: true`).
 * A discriminated union reports on its discriminator but keeps the whole object.
 */
function inputOf(issue: Issue): { known: boolean; value?: unknown } {
  if (!('input' in issue)) return { known: false };
  const input = (issue as { input?: unknown }).input;
  if (issue.code === 'invalid_union' && 'discriminator' in issue && typeof issue.discriminator === 'string') {
    return { known: true, value: input && typeof input === 'object' ? (input as Record<string, unknown>)[issue.discriminator] : undefined };
  }
  return { known: true, value: input };
}

/** ` (got …)` when the value is known and short. */
function got(issue: Issue): string {
  const input = inputOf(issue);
  if (!input.known) return '';
  const q = quote(input.value);
  return q === undefined ? ` (got ${words(typeOf(input.value))})` : ` (got ${q})`;
}

function sizeWords(origin: string, n: number | bigint): string {
  switch (origin) {
    case 'string':
      return `${n} character${n === 1 ? '' : 's'}`;
    case 'array':
    case 'set':
      return `${n} item${n === 1 ? '' : 's'}`;
    case 'map':
    case 'record':
    case 'object':
      return `${n} entr${n === 1 ? 'y' : 'ies'}`;
    default:
      return String(n);
  }
}

/** zod's issue codes in plain words. Only called for issues that still carry zod's default text. */
function plainMessage(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type': {
      const input = inputOf(issue);
      // Without the input, zod's own text still names what it received.
      const received = input.known ? typeOf(input.value) : (/received (\S+)$/.exec(issue.message)?.[1] ?? 'unknown');
      if (received === 'undefined') return `required (${words(issue.expected)})`;
      if (issue.expected === 'int' && received === 'number') return `must be a whole number${got(issue)}`;
      if (issue.expected === 'never' || issue.expected === 'undefined') return 'is not allowed here; remove it';
      const q = input.known ? quote(input.value) : undefined;
      return `must be ${words(issue.expected)} (got ${q ?? words(received)})`;
    }
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${listOf(issue.values)}${got(issue)}` : `must be one of ${listOf(issue.values)}${got(issue)}`;
    case 'too_small': {
      if (issue.exact) return `must be exactly ${sizeWords(issue.origin, issue.minimum)}`;
      if (issue.origin === 'string' && Number(issue.minimum) === 1 && issue.inclusive !== false) return 'must not be empty';
      if ((issue.origin === 'array' || issue.origin === 'set') && Number(issue.minimum) === 1 && issue.inclusive !== false) return 'must list at least one item';
      return issue.inclusive === false ? `must be more than ${sizeWords(issue.origin, issue.minimum)}${got(issue)}` : `at least ${sizeWords(issue.origin, issue.minimum)}${got(issue)}`;
    }
    case 'too_big':
      if (issue.exact) return `must be exactly ${sizeWords(issue.origin, issue.maximum)}`;
      return issue.inclusive === false ? `must be less than ${sizeWords(issue.origin, issue.maximum)}${got(issue)}` : `at most ${sizeWords(issue.origin, issue.maximum)}${got(issue)}`;
    case 'invalid_format':
      switch (issue.format) {
        case 'starts_with':
          return `must start with "${(issue as { prefix?: string }).prefix ?? ''}"`;
        case 'ends_with':
          return `must end with "${(issue as { suffix?: string }).suffix ?? ''}"`;
        case 'includes':
          return `must contain "${(issue as { includes?: string }).includes ?? ''}"`;
        case 'url':
          return `must be a URL such as https://example.net/${got(issue)}`;
        case 'email':
          return 'must be an email address such as postmaster@example.net';
        case 'ipv4':
          return 'must be an IPv4 address such as 10.20.0.10';
        case 'cidrv4':
          return 'must be an IPv4 CIDR such as 10.20.0.0/24';
        case 'regex':
          return `must match ${(issue as { pattern?: string }).pattern ?? 'the expected form'}`;
        default:
          return `must be a valid ${issue.format}`;
      }
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    case 'unrecognized_keys':
      return 'unknown field';
    case 'invalid_key':
      return `has a key that is not allowed here`;
    case 'invalid_element':
      return `holds a value that is not allowed here`;
    case 'invalid_union':
      if ('options' in issue && Array.isArray(issue.options) && issue.options.length > 0) {
        const input = inputOf(issue);
        if (input.known && input.value === undefined) return `required: one of ${listOf(issue.options)}`;
        return `must be one of ${listOf(issue.options)}${got(issue)}`;
      }
      return 'matches none of the allowed forms';
    case 'custom':
      return 'is not valid';
  }
}

/** Levenshtein distance, for "did you mean" on unknown keys (short strings only). */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The allowed key closest to `key`, if it is close enough to be the one meant. */
function closest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of allowed) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}

function unknownKeyMessage(key: string, issueMessage: string): string {
  const at = issueMessage.indexOf(ALLOWED_HERE);
  if (at < 0) return isZodDefaultUnknown(issueMessage) ? 'unknown field' : issueMessage;
  const allowed = issueMessage.slice(at + ALLOWED_HERE.length).split(', ');
  const suggestion = closest(key, allowed);
  return `unknown field${suggestion ? ` (did you mean "${suggestion}"?)` : ''}; ${ALLOWED_HERE}${allowed.join(', ')}`;
}

const isZodDefaultUnknown = (message: string) => /^Unrecognized keys?: /.test(message);

/**
 * Flattens zod issues (including those nested in unions) into field problems:
 * one line per field, in plain words (see plainMessage), each unknown key at
 * its own path. Several issues on one field become one line.
 */
export function problemsFromZod(error: z.ZodError): FieldProblem[] {
  const byPath = new Map<string, string[]>();
  const add = (path: string, message: string) => {
    const messages = byPath.get(path) ?? [];
    if (!messages.includes(message)) messages.push(message);
    byPath.set(path, messages);
  };
  const visit = (issues: readonly Issue[], prefix: readonly PropertyKey[]) => {
    for (const issue of issues) {
      const path = [...prefix, ...issue.path];
      if (issue.code === 'unrecognized_keys') {
        // Report each unknown key at its own path so the user can find it.
        for (const key of issue.keys) add(pathToString([...path, key]), unknownKeyMessage(key, issue.message));
        continue;
      }
      if (issue.code === 'invalid_union' && issue.errors.length > 0) {
        // A union whose alternatives all failed: report the alternative that got
        // furthest (fewest problems), which is almost always the one meant.
        const best = [...issue.errors].sort((a, b) => a.length - b.length)[0]!;
        visit(best, path);
        continue;
      }
      add(pathToString(path), isZodDefault(issue) ? plainMessage(issue) : issue.message);
    }
  };
  visit(error.issues, []);
  return [...byPath].map(([path, messages]) => ({ path, message: messages.join('; ') }));
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
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/, { message: 'must be an IPv4 CIDR such as 10.20.0.0/24', abort: true })
  .refine((s) => {
    const [ip, bits] = s.split('/') as [string, string];
    return ip.split('.').every((o) => Number(o) <= 255) && Number(bits) <= 32;
  }, 'octets must be 0–255 and the prefix 0–32');

export const ipv4 = z
  .string()
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/, { message: 'must be an IPv4 address such as 10.20.0.10', abort: true })
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

