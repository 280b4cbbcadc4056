import * as pulumi from '@pulumi/pulumi';

/**
 * Which provider plugin this binding speaks to. The schema facts
 * (shared/schemas/vsphere-provider.json: providerVersion, plugin) describe
 * provider 4.17.0 and carry no pluginDownloadURL, so the engine fetches the
 * plugin from its default sources (the GitHub release, then get.pulumi.com);
 * we only pin the version, exactly as the generated SDK's
 * `resourceOptsDefaults()` does.
 */
export const VSPHERE_PACKAGE = 'vsphere';
export const VSPHERE_PLUGIN_VERSION = '4.17.0';

/** Resource options with the plugin version; an explicit `version` from the caller wins. */
export function withPluginVersion(opts: pulumi.CustomResourceOptions | undefined): pulumi.CustomResourceOptions {
  return pulumi.mergeOptions({ version: VSPHERE_PLUGIN_VERSION }, opts ?? {});
}

/** Invoke options with the plugin version (data sources need the same plugin as resources). */
export function withInvokeVersion(opts: pulumi.InvokeOutputOptions | undefined): pulumi.InvokeOutputOptions {
  return { version: VSPHERE_PLUGIN_VERSION, ...opts };
}

/**
 * A compile-time exhaustive list of the property names of T: a name that is
 * not a key of T, or a key of T left out, is a type error. The binding keeps
 * one per args/result type so the conformance test can check every name it
 * declares against the schema, not only the ones a test run happens to use.
 */
export function keysOf<T>() {
  return <const K extends readonly (keyof T & string)[]>(
    ...keys: K & (Exclude<keyof T & string, K[number]> extends never ? unknown : { missing: Exclude<keyof T & string, K[number]> })
  ): K => keys;
}

/** Copies the declared inputs of a resource into the property bag (undefined ones are not sent). */
export function pickInputs<T extends object>(args: T | undefined, names: readonly (keyof T & string)[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of names) out[n] = args?.[n];
  return out;
}

/** Output-only properties must be in the property bag (as undefined) for the SDK to create their Outputs. */
export function declareOutputs(bag: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  for (const n of names) if (!(n in bag)) bag[n] = undefined;
  return bag;
}
