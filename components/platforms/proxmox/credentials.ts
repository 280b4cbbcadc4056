import * as pulumi from '@pulumi/pulumi';

/**
 * What the Proxmox provider needs beyond the spec. Credentials are never part
 * of the spec (which may live in a repository), and the adapter never reads
 * stack config: a stack program passes them as `credentials.proxmox` (or
 * gives the component its own provider instead).
 */
export interface ProxmoxCredentials {
  /** API token `USER@REALM!TOKENID=SECRET`; always sent as a Pulumi secret. */
  apiToken: pulumi.Input<string>;
  /** Snippet uploads go over SSH to the Proxmox nodes: the API cannot write snippets. */
  ssh?: {
    /** Default `root`. */
    username?: string;
    /** PEM private key; when absent the deploying machine's SSH agent is used. */
    privateKey?: pulumi.Input<string>;
  };
}

/** The Pulumi package (and provider type `pulumi:providers:proxmoxve`) of @muhlba91/pulumi-proxmoxve. */
export const PROXMOX_PACKAGE = 'proxmoxve';

export const API_TOKEN_KEYS = ['proxmoxve:apiToken', 'mailfleet:proxmoxApiToken'] as const;

type ConfigRuntime = { isConfigSecret?: (key: string) => boolean };

function isStoredSecret(fullKey: string): boolean | undefined {
  const f = (pulumi.runtime as unknown as ConfigRuntime).isConfigSecret;
  return typeof f === 'function' ? f(fullKey) : undefined;
}

function readSecret(fullKey: string, what: string): pulumi.Output<string> | undefined {
  const [ns, key] = fullKey.split(':') as [string, string];
  const cfg = new pulumi.Config(ns);
  const plain = cfg.get(key);
  if (plain === undefined) return undefined;
  // A credential stored in clear in Pulumi.<stack>.yaml is already leaked to
  // whoever reads the repository: refuse it rather than wrap it late.
  if (isStoredSecret(fullKey) === false) {
    throw new pulumi.RunError(`${fullKey} must be a secret: run \`pulumi config set --secret ${fullKey} <${what}>\``);
  }
  return cfg.requireSecret(key);
}

/**
 * For stack programs (never called by the adapter): the credentials from
 * stack config.
 *
 *   pulumi config set --secret proxmoxve:apiToken 'mailfleet@pve!deploy=<uuid>'
 *
 * `mailfleet:proxmoxApiToken` is accepted as an alternative key. SSH:
 * `mailfleet:proxmoxSshPrivateKey` (secret) when given, otherwise the SSH
 * agent; user `mailfleet:proxmoxSshUsername` (default root).
 */
export function proxmoxCredentialsFromStackConfig(): ProxmoxCredentials {
  let apiToken: pulumi.Output<string> | undefined;
  for (const key of API_TOKEN_KEYS) {
    // The format (USER@REALM!TOKENID=SECRET) is left to the provider: offline
    // previews substitute a placeholder for ciphertext they cannot decrypt.
    apiToken = readSecret(key, 'USER@REALM!TOKENID=SECRET');
    if (apiToken) break;
  }
  if (!apiToken) {
    throw new pulumi.RunError(
      `no Proxmox API token: run \`pulumi config set --secret proxmoxve:apiToken 'USER@REALM!TOKENID=SECRET'\` (or set ${API_TOKEN_KEYS[1]})`,
    );
  }
  const privateKey = readSecret('mailfleet:proxmoxSshPrivateKey', 'PEM key');
  const username = new pulumi.Config('mailfleet').get('proxmoxSshUsername');
  return { apiToken, ssh: { ...(username ? { username } : {}), ...(privateKey ? { privateKey } : {}) } };
}
