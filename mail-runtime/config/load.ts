import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import YAML from 'yaml';
import { RuntimeConfig } from './schema';
import { ConfigFileError, RuntimeConfigError, type FieldProblem, pathToString, problemsFromZod } from './validation';

/**
 * Environment variables a container can set instead of (or on top of) a
 * config file. Each names the config path it fills, so a zod problem at that
 * path is reported under the variable the operator actually wrote.
 */
type EnvKind = 'string' | 'int' | 'int-or-auto' | 'number' | 'bool' | 'list' | 'listen' | 'lmtp';
interface EnvVar {
  name: string;
  path: readonly string[];
  kind: EnvKind;
}

const LISTENERS = ['imap', 'imaps', 'pop3', 'pop3s', 'lmtp', 'submission', 'smtp', 'smtps', 'http'] as const;

export const ENV_VARS: readonly EnvVar[] = [
  { name: 'MAILFLEET_ROLE', path: ['role'], kind: 'string' },
  { name: 'MAILFLEET_MEMBER_ID', path: ['memberId'], kind: 'string' },
  { name: 'MAILFLEET_CLUSTER', path: ['cluster'], kind: 'string' },
  { name: 'MAILFLEET_SITE', path: ['site'], kind: 'string' },
  { name: 'MAILFLEET_ADVERTISE', path: ['advertise'], kind: 'string' },
  { name: 'MAILFLEET_MANAGEMENT', path: ['management'], kind: 'listen' },
  { name: 'MAILFLEET_STORAGE_PATH', path: ['storage', 'path'], kind: 'string' },
  { name: 'MAILFLEET_HUB_URL', path: ['hubUrl'], kind: 'string' },
  { name: 'MAILFLEET_HUB_URLS', path: ['hubUrls'], kind: 'list' },
  { name: 'MAILFLEET_CLUSTER_CA_FILE', path: ['clusterTls', 'caFile'], kind: 'string' },
  { name: 'MAILFLEET_CLUSTER_CERT_FILE', path: ['clusterTls', 'certFile'], kind: 'string' },
  { name: 'MAILFLEET_CLUSTER_KEY_FILE', path: ['clusterTls', 'keyFile'], kind: 'string' },
  { name: 'MAILFLEET_CLUSTER_TOKEN_FILE', path: ['clusterTokenFile'], kind: 'string' },
  { name: 'MAILFLEET_TLS_CERT_FILE', path: ['tls', 'certFile'], kind: 'string' },
  { name: 'MAILFLEET_TLS_KEY_FILE', path: ['tls', 'keyFile'], kind: 'string' },
  { name: 'MAILFLEET_HOSTNAME', path: ['hostname'], kind: 'string' },
  { name: 'MAILFLEET_PLAINTEXT_AUTH', path: ['plaintextAuth'], kind: 'string' },
  { name: 'MAILFLEET_LOG_LEVEL', path: ['logLevel'], kind: 'string' },
  { name: 'MAILFLEET_LIMIT_MAX_MESSAGE_BYTES', path: ['limits', 'maxMessageBytes'], kind: 'int' },
  { name: 'MAILFLEET_LIMIT_MAX_CONNECTIONS', path: ['limits', 'maxConnections'], kind: 'int' },
  { name: 'MAILFLEET_LIMIT_IMAP_LITERAL_BYTES', path: ['limits', 'imapLiteralBytes'], kind: 'int' },
  { name: 'MAILFLEET_LIMIT_IMAP_APPEND_MESSAGES', path: ['limits', 'imapAppendMessages'], kind: 'int' },
  { name: 'MAILFLEET_LIMIT_MAX_CONNECTIONS_PER_ADDRESS', path: ['limits', 'maxConnectionsPerAddress'], kind: 'int' },
  { name: 'MAILFLEET_LIMIT_PER_ADDRESS_EXEMPT', path: ['limits', 'perAddressExempt'], kind: 'list' },
  { name: 'MAILFLEET_LIMIT_LOGIN_TIMEOUT_SECONDS', path: ['limits', 'loginTimeoutSeconds'], kind: 'int' },
  { name: 'MAILFLEET_LIMIT_TLS_HANDSHAKE_SECONDS', path: ['limits', 'tlsHandshakeSeconds'], kind: 'int' },
  { name: 'MAILFLEET_LIMIT_LOGIN_FAILURES_PER_CONNECTION', path: ['limits', 'loginFailuresPerConnection'], kind: 'int' },
  { name: 'MAILFLEET_LIMIT_LOGIN_FAILURES_PER_ADDRESS', path: ['limits', 'loginFailuresPerAddress'], kind: 'int' },
  { name: 'MAILFLEET_LIMIT_LOGIN_FAILURES_PER_USER_ADDRESS', path: ['limits', 'loginFailuresPerUserAddress'], kind: 'int' },
  { name: 'MAILFLEET_LIMIT_LOGIN_FAILURES_PER_USER', path: ['limits', 'loginFailuresPerUser'], kind: 'int' },
  { name: 'MAILFLEET_LIMIT_LOGIN_FAILURE_WINDOW_SECONDS', path: ['limits', 'loginFailureWindowSeconds'], kind: 'int' },
  { name: 'MAILFLEET_LIMIT_LOGIN_USER_DELAY_MAX_MS', path: ['limits', 'loginUserDelayMaxMs'], kind: 'int' },
  { name: 'MAILFLEET_LIMIT_LOGIN_PAIR_DELAY_MS', path: ['limits', 'loginPairDelayMs'], kind: 'int' },
  { name: 'MAILFLEET_LIMIT_PASSWORD_CHECK_WORKERS', path: ['limits', 'passwordCheckWorkers'], kind: 'int-or-auto' },
  { name: 'MAILFLEET_LIMIT_PASSWORD_CHECK_QUEUE_MS', path: ['limits', 'passwordCheckQueueMs'], kind: 'int' },
  { name: 'MAILFLEET_LIMIT_CREDENTIAL_CACHE_SECONDS', path: ['limits', 'credentialCacheSeconds'], kind: 'int' },
  ...LISTENERS.map((l) => ({ name: `MAILFLEET_LISTEN_${l.toUpperCase()}`, path: ['listen', l], kind: 'listen' as const })),
  { name: 'MAILFLEET_DIRECTORY_FILE', path: ['directory', 'file'], kind: 'string' },
  { name: 'MAILFLEET_RELAY_NETWORKS', path: ['relayNetworks'], kind: 'list' },
  { name: 'MAILFLEET_HOSTED_DOMAINS', path: ['hostedDomains'], kind: 'list' },
  { name: 'MAILFLEET_SMARTHOST', path: ['smarthost'], kind: 'string' },
  { name: 'MAILFLEET_CLAMD_ADDRESS', path: ['filters', 'clamd', 'address'], kind: 'string' },
  { name: 'MAILFLEET_CLAMD_ON_ERROR', path: ['filters', 'clamd', 'onError'], kind: 'string' },
  { name: 'MAILFLEET_CLAMD_TIMEOUT_MS', path: ['filters', 'clamd', 'timeoutMs'], kind: 'int' },
  { name: 'MAILFLEET_CLAMD_STREAM_MAX_BYTES', path: ['filters', 'clamd', 'streamMaxBytes'], kind: 'int' },
  { name: 'MAILFLEET_SPAM_KIND', path: ['filters', 'spam', 'kind'], kind: 'string' },
  { name: 'MAILFLEET_SPAM_ADDRESS', path: ['filters', 'spam', 'address'], kind: 'string' },
  { name: 'MAILFLEET_SPAM_TIMEOUT_MS', path: ['filters', 'spam', 'timeoutMs'], kind: 'int' },
  { name: 'MAILFLEET_AUTHENTICATION_ENABLED', path: ['filters', 'authentication', 'enabled'], kind: 'bool' },
  { name: 'MAILFLEET_AUTHENTICATION_ALLOWLIST', path: ['filters', 'authentication', 'allowlist'], kind: 'list' },
  { name: 'MAILFLEET_AUTHENTICATION_ON_ERROR', path: ['filters', 'authentication', 'onError'], kind: 'string' },
  { name: 'MAILFLEET_AUTHENTICATION_TIMEOUT_MS', path: ['filters', 'authentication', 'timeoutMs'], kind: 'int' },
  { name: 'MAILFLEET_AUTHENTICATION_LOOKUP_TIMEOUT_MS', path: ['filters', 'authentication', 'lookupTimeoutMs'], kind: 'int' },
  { name: 'MAILFLEET_DKIM_SELECTOR', path: ['filters', 'dkim', 'selector'], kind: 'string' },
  { name: 'MAILFLEET_DKIM_KEY_FILE', path: ['filters', 'dkim', 'keyFile'], kind: 'string' },
  // Gateway: static placement (one node for everything; `routes` only in a file), inbound bounds, queue.
  { name: 'MAILFLEET_PLACEMENT_DEFAULT', path: ['placement', 'default'], kind: 'lmtp' },
  { name: 'MAILFLEET_INBOUND_MAX_RECIPIENTS', path: ['inbound', 'maxRecipients'], kind: 'int' },
  { name: 'MAILFLEET_INBOUND_MESSAGES_PER_ADDRESS_PER_MINUTE', path: ['inbound', 'messagesPerAddressPerMinute'], kind: 'int' },
  { name: 'MAILFLEET_INBOUND_IDLE_TIMEOUT_SECONDS', path: ['inbound', 'idleTimeoutSeconds'], kind: 'int' },
  { name: 'MAILFLEET_QUEUE_RETRY_FIRST_SECONDS', path: ['queue', 'retryFirstSeconds'], kind: 'int' },
  { name: 'MAILFLEET_QUEUE_RETRY_MAX_SECONDS', path: ['queue', 'retryMaxSeconds'], kind: 'int' },
  { name: 'MAILFLEET_QUEUE_EXPIRE_HOURS', path: ['queue', 'expireHours'], kind: 'number' },
  { name: 'MAILFLEET_QUEUE_DELIVERY_CONCURRENCY', path: ['queue', 'deliveryConcurrency'], kind: 'int' },
  { name: 'MAILFLEET_ADMIN_TOKEN_FILE', path: ['adminTokenFile'], kind: 'string' },
  { name: 'MAILFLEET_READONLY_TOKEN_FILE', path: ['readOnlyTokenFile'], kind: 'string' },
  { name: 'MAILFLEET_HEARTBEAT_SECONDS', path: ['heartbeatSeconds'], kind: 'number' },
  { name: 'MAILFLEET_DEAD_AFTER_SECONDS', path: ['deadAfterSeconds'], kind: 'number' },
  { name: 'MAILFLEET_LEASE_MARGIN_SECONDS', path: ['leaseMarginSeconds'], kind: 'number' },
  { name: 'MAILFLEET_CLUSTER_CA_KEY_FILE', path: ['clusterCaKeyFile'], kind: 'string' },
  { name: 'MAILFLEET_PROXY_BACKEND_TIMEOUT_SECONDS', path: ['proxy', 'backendTimeoutSeconds'], kind: 'number' },
  { name: 'MAILFLEET_FAILOVER_STANDBY', path: ['failover', 'standby'], kind: 'bool' },
  { name: 'MAILFLEET_FAILOVER_PEER_URL', path: ['failover', 'peerUrl'], kind: 'string' },
  { name: 'MAILFLEET_FAILOVER_MODE', path: ['failover', 'mode'], kind: 'string' },
  { name: 'MAILFLEET_FAILOVER_PROBE_INTERVAL_SECONDS', path: ['failover', 'probeIntervalSeconds'], kind: 'int' },
  { name: 'MAILFLEET_FAILOVER_FAILURE_THRESHOLD', path: ['failover', 'failureThreshold'], kind: 'int' },
];

/** Variables that steer loading itself rather than fill a field. */
const CONTROL_VARS = new Set(['MAILFLEET_CONFIG']);

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

function convert(v: EnvVar, raw: string): { value: Json } | { error: string } {
  switch (v.kind) {
    case 'string':
      return { value: raw };
    case 'int':
      return /^-?\d+$/.test(raw.trim()) ? { value: Number(raw.trim()) } : { error: `must be a whole number (got "${raw}")` };
    case 'int-or-auto':
      if (raw.trim() === 'auto') return { value: 'auto' };
      return /^-?\d+$/.test(raw.trim()) ? { value: Number(raw.trim()) } : { error: `must be a whole number or auto (got "${raw}")` };
    case 'number':
      return /^-?\d+(\.\d+)?$/.test(raw.trim()) ? { value: Number(raw.trim()) } : { error: `must be a number such as 1 or 0.5 (got "${raw}")` };
    case 'bool':
      if (/^(true|1|yes)$/i.test(raw)) return { value: true };
      if (/^(false|0|no)$/i.test(raw)) return { value: false };
      return { error: `must be true or false (got "${raw}")` };
    case 'list':
      return { value: raw.split(',').map((s) => s.trim()).filter(Boolean) };
    case 'listen': {
      // host:port, [v6]:port or a bare port (all interfaces).
      const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(raw.trim());
      if (!m) return { error: `must be host:port or a port number (got "${raw}")` };
      const host = m[1]?.replace(/^\[|\]$/g, '') ?? '0.0.0.0';
      return { value: { host, port: Number(m[2]) } };
    }
    case 'lmtp': {
      // memberId@host:port, e.g. demo-node-0@10.0.0.5:24 (the node's LMTP endpoint).
      const m = /^([^@\s]+)@(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(raw.trim());
      if (!m) return { error: `must be memberId@host:port, e.g. demo-node-0@10.0.0.5:24 (got "${raw}")` };
      return { value: { memberId: m[1]!, host: m[2]!.replace(/^\[|\]$/g, ''), port: Number(m[3]) } };
    }
  }
}

function setPath(target: { [key: string]: Json }, path: readonly string[], value: Json) {
  let cur = target;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (!next || typeof next !== 'object' || Array.isArray(next)) cur[key] = {};
    cur = cur[key] as { [key: string]: Json };
  }
  cur[path[path.length - 1]!] = value;
}

export interface LoadOptions {
  /** Config file (JSON or YAML). Defaults to `$MAILFLEET_CONFIG`. */
  file?: string;
  /** Environment to read MAILFLEET_* from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Reads a JSON or YAML file into a plain object; errors name the file. */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigFileError(`config file ${file}`, [{ path: '(file)', message: `cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  try {
    return extname(file).toLowerCase() === '.json' ? JSON.parse(text) : YAML.parse(text, { prettyErrors: true });
  } catch (err) {
    throw new ConfigFileError(`config file ${file}`, [{ path: '(syntax)', message: (err as Error).message.split('\n')[0]! }]);
  }
}

/**
 * Loads a RuntimeConfig from a file and/or MAILFLEET_* variables (variables
 * win). Throws RuntimeConfigError naming every bad field, or the variable that set it.
 */
export function loadRuntimeConfig(opts: LoadOptions = {}): RuntimeConfig {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.MAILFLEET_CONFIG;
  const base = file ? readConfigFile(file) : {};
  if (!base || typeof base !== 'object' || Array.isArray(base)) {
    throw new RuntimeConfigError(`config file ${file}`, [{ path: '(top level)', message: 'must be a mapping' }]);
  }
  const merged = structuredClone(base) as { [key: string]: Json };
  const problems: FieldProblem[] = [];
  const used: EnvVar[] = [];
  const known = new Map(ENV_VARS.map((v) => [v.name, v]));
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('MAILFLEET_') || raw === undefined || CONTROL_VARS.has(name)) continue;
    const v = known.get(name);
    if (!v) {
      problems.push({ path: name, message: 'unknown MAILFLEET_* variable (a typo?); see mail-runtime/config/load.ts ENV_VARS for the list' });
      continue;
    }
    const converted = convert(v, raw);
    if ('error' in converted) problems.push({ path: name, message: converted.error });
    else {
      setPath(merged, v.path, converted.value);
      used.push(v);
    }
  }
  const result = RuntimeConfig.safeParse(merged);
  if (!result.success) {
    for (const p of problemsFromZod(result.error)) {
      // Name the variable that set this field (or its parent), else the file field.
      const v = used.find((u) => {
        const set = pathToString(u.path);
        return p.path === set || p.path.startsWith(`${set}.`) || p.path.startsWith(`${set}[`);
      });
      problems.push(v ? { path: v.name, message: `${p.message} (sets ${p.path})` } : { path: p.path, message: p.message });
    }
  }
  if (problems.length > 0) {
    const what = file ? `runtime config (${file}${used.length ? ' + MAILFLEET_* variables' : ''})` : 'runtime config (MAILFLEET_* variables)';
    throw new RuntimeConfigError(what, problems);
  }
  return result.data!;
}

/** Validates an in-memory RuntimeConfig (used by render and tests). */
export function parseRuntimeConfig(input: unknown, what = 'runtime config'): RuntimeConfig {
  const result = RuntimeConfig.safeParse(input);
  if (!result.success) throw new RuntimeConfigError(what, problemsFromZod(result.error));
  return result.data;
}
