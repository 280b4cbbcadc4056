import * as pulumi from '@pulumi/pulumi';
import { VSPHERE_PACKAGE, keysOf, withPluginVersion } from './plugin';

/** Inputs of `pulumi:providers:vsphere` (schema `provider.inputs`; the deprecated `vcenterServer` is left out). */
export interface ProviderArgs {
  /** vCenter host name (or ESXi host). */
  vsphereServer?: pulumi.Input<string>;
  user?: pulumi.Input<string>;
  /** Always sent as a Pulumi secret. */
  password?: pulumi.Input<string>;
  /** Accept a self-signed vCenter certificate (labs only). */
  allowUnverifiedSsl?: pulumi.Input<boolean>;
  /** Minutes to wait for API operations. */
  apiTimeout?: pulumi.Input<number>;
  clientDebug?: pulumi.Input<boolean>;
  clientDebugPath?: pulumi.Input<string>;
  clientDebugPathRun?: pulumi.Input<string>;
  persistSession?: pulumi.Input<boolean>;
  restSessionPath?: pulumi.Input<string>;
  vimKeepAlive?: pulumi.Input<number>;
  vimSessionPath?: pulumi.Input<string>;
}

export const PROVIDER_INPUTS = keysOf<ProviderArgs>()(
  'vsphereServer',
  'user',
  'password',
  'allowUnverifiedSsl',
  'apiTimeout',
  'clientDebug',
  'clientDebugPath',
  'clientDebugPathRun',
  'persistSession',
  'restSessionPath',
  'vimKeepAlive',
  'vimSessionPath',
);

/**
 * Provider inputs the generated SDK sends JSON-stringified (schema
 * `provider.jsonStringifiedInputs`): provider configuration travels as
 * strings, so `true` goes on the wire as `"true"`.
 */
export const PROVIDER_JSON_INPUTS = ['allowUnverifiedSsl', 'apiTimeout', 'clientDebug', 'persistSession', 'vimKeepAlive'] as const satisfies readonly (keyof ProviderArgs)[];

/** An explicit vSphere provider (`pulumi:providers:vsphere`). */
export class Provider extends pulumi.ProviderResource {
  static readonly __pulumiType = VSPHERE_PACKAGE;

  constructor(name: string, args: ProviderArgs, opts?: pulumi.CustomResourceOptions) {
    const props: Record<string, unknown> = {};
    for (const key of PROVIDER_INPUTS) {
      const value = args[key];
      if (value === undefined) continue;
      if ((PROVIDER_JSON_INPUTS as readonly string[]).includes(key)) props[key] = pulumi.output(value).apply((v) => JSON.stringify(v));
      else if (key === 'password') props[key] = pulumi.secret(value);
      else props[key] = value;
    }
    super(
      VSPHERE_PACKAGE,
      name,
      props as pulumi.Inputs,
      pulumi.mergeOptions(withPluginVersion(opts), { additionalSecretOutputs: ['password'] }),
    );
  }
}
