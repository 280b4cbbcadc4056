import * as pulumi from '@pulumi/pulumi';

/**
 * Values a provider computes (a generated password or token, an assigned
 * address) exist only once the provider has run. A program must not assume
 * they do: in a preview they are unknown (Pulumi skips the apply), but a
 * program can also see them undefined, e.g. under mocks that return only the
 * inputs, or when the engine did not run the provider. Rendering from a
 * missing value would throw inside `apply`, and an exception there does not
 * fail the program: every output that depends on it stays unresolved and the
 * program hangs.
 *
 * So a render that needs such a value returns `notYetComputed()` when it is
 * missing: the result is unknown, as in a preview, and a real update stops at
 * the engine (an unknown input) instead of shipping a half-rendered file.
 */
export function notYetComputed<T>(): T {
  return pulumi.unknown as unknown as T;
}

/** `render(value)` once the provider has filled `value` in; unknown until then (see notYetComputed). */
export function whenComputed(value: pulumi.Input<string | undefined>, render: (v: string) => string): pulumi.Output<string> {
  return pulumi.output(value).apply((v) => (v === undefined || v === null ? notYetComputed<string>() : render(v)));
}
