import * as pulumi from '@pulumi/pulumi';

/**
 * What the vSphere provider needs beyond the spec (which names the vCenter
 * but never holds credentials). The adapter never reads stack config: a
 * stack program passes these as `credentials.vsphere` (or gives the
 * component its own provider instead).
 */
export interface VsphereCredentials {
  user: pulumi.Input<string>;
  /** Always sent as a Pulumi secret. */
  password: pulumi.Input<string>;
}

/** Stack config keys of the vSphere provider that carry the credentials. */
export const CREDENTIAL_KEYS = { user: 'vsphere:user', password: 'vsphere:password' } as const;

/**
 * For stack programs (never called by the adapter): the credentials from the
 * vSphere provider's own stack config keys. Reads them synchronously so a
 * missing one fails before anything is created, naming the key. The password
 * is always a secret, even when someone set it without --secret.
 */
export function vsphereCredentialsFromStackConfig(): VsphereCredentials {
  const config = new pulumi.Config('vsphere');
  const user = config.get('user');
  if (!user) {
    throw new pulumi.RunError(`stack config ${CREDENTIAL_KEYS.user} is not set: pulumi config set ${CREDENTIAL_KEYS.user} <vCenter user>`);
  }
  const password = config.getSecret('password');
  if (password === undefined) {
    throw new pulumi.RunError(`stack config ${CREDENTIAL_KEYS.password} is not set: pulumi config set --secret ${CREDENTIAL_KEYS.password} <password>`);
  }
  return { user, password: pulumi.secret(password) };
}
