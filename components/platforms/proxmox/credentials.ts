import * as pulumi from '@pulumi/pulumi';

/**
 * Provider credentials from stack config. They are never part of the spec
 * (which may live in a repository); they are Pulumi secrets in stack config:
 *
 *   pulumi config set --secret proxmoxve:apiToken 'mailfleet@pve!deploy=<uuid>'
 *
 * `mailfleet:proxmoxApiToken` is accepted as an alternative key. Uploading the
 * cloud-init snippets goes over SSH to the Proxmox nodes (the API cannot write
 * snippets): `mailfleet:proxmoxSshPrivateKey` (secret) when given, otherwise
 * the deploying machine's SSH agent; user `mailfleet:proxmoxSshUsername`
 * (default root).
 */

export const API_TOKEN_KEYS = ['proxmoxve:apiToken', 'mailfleet:proxmoxApiToken'] as const;

export interface ProxmoxCredentials {
  apiToken: pulumi.Output<string>;
  ssh: { username: string; agent: boolean; privateKey?: pulumi.Output<string> };
}

type ConfigRuntime = { isConfigSecret?: (key: string) => boolean };

function isStoredSecret(fullKey: string): boolean | undefined {
  const f = (pulumi.runtime as unknown as ConfigRuntime).isConfigSecret;
  return typeof f === 'function' ? f(fullKey) : undefined;
}

function readSecret(fullKey: string, parent: pulumi.Resource, what: string): pulumi.Output<string> | undefined {
  const [ns, key] = fullKey.split(':') as [string, string];
  const cfg = new pulumi.Config(ns);
  const plain = cfg.get(key);
  if (plain === undefined) return undefined;
  // A credential stored in clear in Pulumi.<stack>.yaml is already leaked to
  // whoever reads the repository: refuse it rather than wrap it late.
  if (isStoredSecret(fullKey) === false) {
    throw new pulumi.ResourceError(`${fullKey} must be a secret: run \`pulumi config set --secret ${fullKey} <${what}>\``, parent);
  }
  return cfg.requireSecret(key);
}

export function readCredentials(parent: pulumi.Resource): ProxmoxCredentials {
  let apiToken: pulumi.Output<string> | undefined;
  for (const key of API_TOKEN_KEYS) {
    // The format (USER@REALM!TOKENID=SECRET) is left to the provider: offline
    // previews substitute a placeholder for ciphertext they cannot decrypt.
    apiToken = readSecret(key, parent, 'USER@REALM!TOKENID=SECRET');
    if (apiToken) break;
  }
  if (!apiToken) {
    throw new pulumi.ResourceError(
      `no Proxmox API token: run \`pulumi config set --secret proxmoxve:apiToken 'USER@REALM!TOKENID=SECRET'\` (or set ${API_TOKEN_KEYS[1]})`,
      parent,
    );
  }
  const privateKey = readSecret('mailfleet:proxmoxSshPrivateKey', parent, 'PEM key');
  const username = new pulumi.Config('mailfleet').get('proxmoxSshUsername') ?? 'root';
  return { apiToken, ssh: { username, agent: privateKey === undefined, ...(privateKey ? { privateKey } : {}) } };
}
