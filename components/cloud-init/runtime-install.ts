import { shellQuote } from './document';

/**
 * The bootstrap step that installs the runtime tarball on a VM. The tarball
 * is downloaded to a private temporary folder and checked against
 * `runtime.sha256` with `sha256sum -c` before a single file of it is
 * unpacked: a URL that now serves something else (a re-published version, a
 * compromised mirror, a proxy's error page) stops the boot instead of
 * becoming the mail server. The failure is loud — on the console and
 * /var/log/cloud-init-output.log (stderr), in the journal (logger), and as
 * cloud-init's runcmd error (`cloud-init status` reports `error`) — and the
 * member's unit is never enabled, so the VM never serves mail with unknown
 * code.
 *
 * Without a hash (allowed outside production; the `verified-runtime-package`
 * policy requires it there) the step says, in the same places, that it
 * installs an unverified tarball.
 */

export interface RuntimeInstall {
  packageUrl: string;
  /** Lowercase hex SHA-256 of the tarball, or undefined to install unverified. */
  sha256: string | undefined;
  /** Where the package is unpacked (npm pack layout: `package/...`). */
  installDir: string;
}

/** Tag of the journal lines the step writes (`journalctl -t mailfleet-bootstrap`). */
const LOG_TAG = 'mailfleet-bootstrap';

/** POSIX shell lines (run under `set -eu`) that download, verify and install the runtime. */
export function runtimeInstallLines(a: RuntimeInstall): string[] {
  const q = shellQuote;
  const tarball = '"$tmp/mailfleet.tgz"';
  const verify =
    a.sha256 === undefined
      ? [
          `msg=${q(`mailfleet: runtime.sha256 is not set, installing ${a.packageUrl} UNVERIFIED (pin runtime.sha256 to the release's SHA-256)`)}`,
          'echo "$msg" >&2',
          `logger -p user.warning -t ${LOG_TAG} "$msg" || true`,
        ]
      : [
          // sha256sum's check format: "<hash>  <file>" (two spaces: text mode).
          `if ! printf '%s  %s\\n' ${q(a.sha256)} ${tarball} | sha256sum -c -; then`,
          // Quoted pieces around the computed hash: the URL is data, never shell.
          `  msg=${q(`mailfleet: refusing to install ${a.packageUrl}: its SHA-256 is `)}"$(sha256sum ${tarball} | cut -d ' ' -f 1)"${q(`, runtime.sha256 pins ${a.sha256}`)}`,
          '  echo "$msg" >&2',
          `  logger -p user.crit -t ${LOG_TAG} "$msg" || true`,
          '  rm -rf "$tmp"',
          '  exit 1',
          'fi',
        ];
  return [
    `tmp=$(mktemp -d)`,
    `curl -fsSL --retry 5 -o ${tarball} ${q(a.packageUrl)}`,
    ...verify,
    `install -d -m 0755 ${q(a.installDir)}`,
    `tar -xzf ${tarball} -C ${q(a.installDir)} --strip-components=1 --no-same-owner`,
    `rm -rf "$tmp"`,
    `cd ${q(a.installDir)} && npm install --omit=dev --ignore-scripts --no-audit --no-fund`,
  ];
}
