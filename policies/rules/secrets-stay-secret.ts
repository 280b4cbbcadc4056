import type { PolicyResource, StackValidationPolicy } from '@pulumi/policy';
import { containersOf, dockerEnvOf, envOf, labelsOf, podSpecOf } from '../lib/platform';
import { isSecretAt, secretPathsOf } from '../lib/secretness';
import { PRIVATE_KEY_PEM, textsOf } from '../lib/text';
import { DOCKER, K8S, isProviderType } from '../lib/tokens';
import { at, entries, stringLeaves } from '../lib/walk';

/**
 * 8. Secrets stay secret. The admin token, the cluster token, TLS and DKIM
 * private keys and provider credentials are Pulumi secrets (encrypted in the
 * state) and reach members only through platform secret stores: Kubernetes
 * Secrets, files written from secret inputs. Never a ConfigMap, a clear
 * environment variable, a label, or cloud-init user data in clear (user data
 * that carries a secret must itself be a secret, as a whole).
 *
 * What "secret material" is: a PEM private key, or a value the stack holds
 * as a secret (generated passwords and keys; with the offline gate, every
 * value the program marked secret). Messages never print the value.
 *
 * CrossGuard cannot tell policies whether a property is a secret
 * (pulumi/pulumi-policy#241): under `pulumi preview` the rule checks where
 * secret material goes; the offline gate also checks that every carrier of
 * secret material is marked secret.
 */

/** Resources whose outputs are the secrets themselves (their providers encrypt them). */
const SECRET_SOURCES: Readonly<Record<string, readonly string[]>> = {
  'random:index/randomPassword:RandomPassword': ['result', 'bcryptHash'],
  'tls:index/privateKey:PrivateKey': ['privateKeyPem', 'privateKeyPemPkcs8', 'privateKeyOpenssh'],
};
/** Resources the provider always treats as secret (Kubernetes encrypts Secret data in the state). */
const ALWAYS_SECRET = new Set<string>([K8S.secret, ...Object.keys(SECRET_SOURCES)]);
/**
 * Inputs the provider's schema marks secret, so the engine encrypts them
 * whatever the program passes (offline mocks do not apply provider schemas).
 */
const SCHEMA_SECRET_INPUTS: Readonly<Record<string, readonly string[]>> = {
  'tls:index/selfSignedCert:SelfSignedCert': ['privateKeyPem'],
  'tls:index/certRequest:CertRequest': ['privateKeyPem'],
  'tls:index/locallySignedCert:LocallySignedCert': ['caPrivateKeyPem'],
};
/** Provider credentials worth protecting, by property name. */
const CREDENTIAL_KEY = /(password|passwd|secret|token|apikey|api_key|privatekey|private_key|credentials?)$/i;
/** Environment variable names that announce a secret value (a `_FILE`/`_PATH` suffix names a file, which is fine). */
const SECRET_ENV_NAME = /(password|passwd|secret|token|private_?key|api_?key|credentials?)$/i;
/** Shortest value treated as a secret when matched by content: shorter strings match too much by accident. */
const MIN_SECRET_LENGTH = 12;

/** Leaf names inside a secret property that describe a secret file rather than hold it. */
const DESCRIPTIVE_KEYS = new Set(['file', 'path', 'owner', 'group', 'permissions', 'mode', 'filename', 'name', 'encoding', 'type']);

/** A value worth matching as a secret: long enough, not a certificate (public), not a file path. */
function secretCandidate(v: unknown): v is string {
  if (typeof v !== 'string' || v.length < MIN_SECRET_LENGTH) return false;
  if (/-----BEGIN CERTIFICATE-----/.test(v) && !PRIVATE_KEY_PEM.test(v)) return false;
  return !/^\/\S*$/.test(v);
}

function knownSecretValues(resources: readonly PolicyResource[]): Set<string> {
  const values = new Set<string>();
  const add = (v: unknown) => {
    if (secretCandidate(v)) values.add(v);
  };
  for (const r of resources) {
    for (const key of SECRET_SOURCES[r.type] ?? []) add(at(r.props, key));
    if (r.type === K8S.secret) {
      for (const [, v] of entries(at(r.props, 'stringData'))) add(v);
    }
    if (isProviderType(r.type)) {
      for (const leaf of stringLeaves(r.props)) if (CREDENTIAL_KEY.test(leaf.path.split('.').pop() ?? '')) add(leaf.value);
    }
    // Offline: every value the program marked secret (secretness covers a whole
    // top-level property, so skip the leaves that only describe a secret file).
    const paths = secretPathsOf(r.urn);
    if (paths) {
      for (const leaf of stringLeaves(r.props)) {
        const last = (leaf.path.split('.').pop() ?? '').replace(/\[\d+\]$/, '').toLowerCase();
        if (DESCRIPTIVE_KEYS.has(last)) continue;
        if (paths.some((p) => leaf.path === p || leaf.path.startsWith(`${p}.`) || leaf.path.startsWith(`${p}[`))) add(leaf.value);
      }
    }
  }
  return values;
}

function carriesSecret(text: string, known: ReadonlySet<string>): string | undefined {
  if (PRIVATE_KEY_PEM.test(text)) return 'a PEM private key';
  for (const v of known) if (text.includes(v)) return 'a secret value of this stack';
  return undefined;
}

type Report = (message: string, urn: string) => void;

function checkConfigMap(r: PolicyResource, known: ReadonlySet<string>, report: Report): void {
  for (const field of ['data', 'binaryData'] as const) {
    for (const [key, value] of entries(at(r.props, field))) {
      const text = typeof value === 'string' ? value : '';
      const found = textsOf(text).map((t) => carriesSecret(t.text, known)).find(Boolean);
      if (found) {
        report(`ConfigMap "${r.name}" holds ${found} under ${field}.${key}: ConfigMaps are stored and shown in clear; put it in a Kubernetes Secret and mount it as a file.`, r.urn);
      } else if (/(^|[._-])(token|password|secret)([._-]|$)|\.key$|private[._-]?key/i.test(key) && text.trim() !== '' && !text.trim().startsWith('/')) {
        report(`ConfigMap "${r.name}" has a key named like a secret (${field}.${key}): move it to a Kubernetes Secret.`, r.urn);
      }
    }
  }
}

function checkEnv(r: PolicyResource, known: ReadonlySet<string>, report: Report): void {
  const pod = podSpecOf(r);
  const literals: Array<{ where: string; name: string; value: string }> = [];
  if (pod) {
    for (const c of containersOf(pod)) {
      for (const e of envOf(c.container)) if (e.value !== undefined) literals.push({ where: `container ${c.name}`, name: e.name, value: e.value });
    }
  }
  if (r.type === DOCKER.container) {
    for (const e of dockerEnvOf(r)) literals.push({ where: 'container', name: e.name, value: e.value });
  }
  for (const e of literals) {
    const found = carriesSecret(e.value, known);
    const named = SECRET_ENV_NAME.test(e.name) && e.value.trim() !== '' && !e.value.startsWith('/') && !/^\$\(.+\)$/.test(e.value);
    if (found || named) {
      report(
        `"${r.name}" (${e.where}) passes ${found ?? 'a secret'} in clear in the environment variable ${e.name}: environments are visible in the pod spec, \`docker inspect\` and crash dumps; mount it as a file from a Secret (${r.type === DOCKER.container ? 'a secret upload' : 'valueFrom.secretKeyRef or a secret volume'}) and pass the file path.`,
        r.urn,
      );
    }
  }
}

function checkLabels(r: PolicyResource, known: ReadonlySet<string>, report: Report): void {
  for (const l of labelsOf(r)) {
    const found = carriesSecret(l.value, known);
    if (found) report(`"${r.name}" carries ${found} in the label/annotation ${l.key}: labels are public metadata; remove it.`, r.urn);
  }
}

/** Any other property that carries secret material must be a secret (offline, where secretness is known). */
function checkCarriers(r: PolicyResource, known: ReadonlySet<string>, report: Report, skip: (path: string) => boolean): void {
  if (ALWAYS_SECRET.has(r.type)) return;
  const reported = new Set<string>();
  for (const t of textsOf(r.props)) {
    const top = t.path.split(/[.[→]/)[0] ?? t.path;
    if (reported.has(top) || skip(t.path) || SCHEMA_SECRET_INPUTS[r.type]?.includes(top)) continue;
    const found = carriesSecret(t.text, known);
    if (!found) continue;
    if (isSecretAt(r.urn, t.path) === false) {
      reported.add(top);
      const what = /userdata|user_data|userData|sourceRaw|extraConfig|cloud-config/i.test(t.path) ? 'cloud-init user data' : `the input ${top}`;
      report(`"${r.name}" (${r.type}) carries ${found} in ${what} (${top}) in clear: make the whole ${top} input a Pulumi secret (pulumi.secret(...)) so it is encrypted in the state.`, r.urn);
    }
  }
}

export const secretsStaySecret: StackValidationPolicy = {
  name: 'secrets-stay-secret',
  description: 'Admin and cluster tokens, TLS and DKIM private keys and provider credentials are Pulumi secrets and reach members only through secret stores: never ConfigMaps, clear environment variables, labels, or cloud-init user data in clear.',
  enforcementLevel: 'mandatory',
  tags: ['security', 'secrets', 'kubernetes', 'docker', 'proxmox', 'vsphere'],
  remediationSteps: 'Keep credentials in `pulumi config set --secret`; pass secrets to members as files from Kubernetes Secrets, secret Docker uploads or secret cloud-init user data.',
  validateStack: (args, reportViolation) => {
    const known = knownSecretValues(args.resources);
    for (const r of args.resources) {
      if (r.type === K8S.configMap) checkConfigMap(r, known, reportViolation);
      checkEnv(r, known, reportViolation);
      checkLabels(r, known, reportViolation);
      // Env, labels and ConfigMaps were judged above, whatever their secretness.
      const judged = (path: string) =>
        r.type === K8S.configMap ? /^(data|binaryData)\b/.test(path) : /^(envs|labels|metadata\.(labels|annotations))\b/.test(path) || /\.env\[\d+\]\.value$/.test(path);
      checkCarriers(r, known, reportViolation, judged);
    }
  },
};

