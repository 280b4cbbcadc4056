/**
 * Container image references (`[registry[:port]/]repo[:tag][@digest]`) and
 * whether they are pinned.
 */

export interface ImageRef {
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseImage(ref: string): ImageRef {
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  const rest = at >= 0 ? ref.slice(0, at) : ref;
  // A tag is after the last ':' that follows the last '/' (a ':' before it is a registry port).
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  const hasTag = colon > slash;
  return { repository: hasTag ? rest.slice(0, colon) : rest, tag: hasTag ? rest.slice(colon + 1) : undefined, digest };
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** An exact release: 1.2.3, v1.2.3, 1.2.3-rc.1, 1.2.3-alpine, 1.2.3+build. */
const EXACT_VERSION = /^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/;

/** Why a reference is not pinned, or undefined when it is (a digest, or an exact version tag). */
export function unpinnedReason(ref: string): string | undefined {
  const img = parseImage(ref.trim());
  if (img.digest !== undefined) return DIGEST.test(img.digest) ? undefined : `its digest "${img.digest}" is not sha256:<64 hex>`;
  if (img.tag === undefined) return 'it has no tag (Docker reads that as latest)';
  if (img.tag === 'latest') return 'its tag is latest';
  if (!EXACT_VERSION.test(img.tag)) return `its tag "${img.tag}" is not an exact version (x.y.z) and may move`;
  return undefined;
}

/** Why a package URL does not name an exact release, or undefined. */
export function unpinnedPackageReason(url: string): string | undefined {
  if (/(^|[/=@-])latest([./?#-]|$)/i.test(url)) return 'it names latest';
  if (!/\d+\.\d+\.\d+/.test(url)) return 'it names no exact version (x.y.z)';
  return undefined;
}
