/**
 * Which properties of a resource are Pulumi secrets — when known.
 *
 * CrossGuard hands policies plain values: the engine unwraps secrets before
 * a policy sees them, and there is no API to ask whether a value was secret
 * (pulumi/pulumi-policy#241). The offline gate (cli/preview/policy-gate.ts)
 * does know, from the captured registrations, and provides it here for the
 * duration of a run. Rules that need secretness check it when it is known and
 * otherwise fall back to what the values themselves show.
 */

export type SecretnessOracle = (urn: string) => readonly string[] | undefined;

let oracle: SecretnessOracle | undefined;

/** Installs an oracle for one policy run; returns the function that removes it. */
export function provideSecretness(o: SecretnessOracle): () => void {
  oracle = o;
  return () => {
    if (oracle === o) oracle = undefined;
  };
}

/** Paths (`a.b[0].c`) of the secret values of a resource, or undefined when secretness is not known (real engine). */
export function secretPathsOf(urn: string): readonly string[] | undefined {
  return oracle?.(urn);
}

/**
 * Whether the value at `path` is (inside) a secret: true/false when known,
 * undefined when the engine did not say. A secret at `uploads` covers
 * `uploads[0].content`; Pulumi tracks secretness per top-level property.
 */
export function isSecretAt(urn: string, path: string): boolean | undefined {
  const paths = secretPathsOf(urn);
  if (!paths) return undefined;
  return paths.some((p) => p === '(value)' || path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`) || path.startsWith(`${p}→`));
}
