/**
 * Container images of the appliances mailfleet deploys beside the gateways
 * on kubernetes and docker, each pinned to an exact release AND its
 * multi-arch index digest (what policies/rules/pinned-runtime-image.ts
 * asks of every image a stack runs): a reschedule never pulls other code.
 * `filters.antivirus.image` / `filters.spam.image` replace them (a private
 * registry's copy on air-gapped sites). Bump version and digest together,
 * from `docker buildx imagetools inspect <image>:<version>`.
 */

/**
 * ClamAV's official image (Cisco Talos, Alpine based) of the 1.4 LTS line:
 * clamd, freshclam and clamdscan, running as the unprivileged `clamav`
 * user (uid CLAMAV_UID), with a signature database built in at release time.
 */
export const CLAMD_IMAGE = 'clamav/clamav:1.4.3@sha256:75fb5fd95fcbe1d7e6d240c369c1572b686ee2c95949d1042b5148de8eddebb4';

/**
 * rspamd's official image (Debian bookworm slim; `USER 11333:11333`, config
 * in /etc/rspamd with local.d overrides, state in /var/lib/rspamd).
 */
export const RSPAMD_IMAGE = 'rspamd/rspamd:3.14.3@sha256:b2fc96714bc4e376c87c5f2ee405f6edcc7acaa10b1ad04e023c4854ef47c6fc';

/** The `clamav` user of CLAMD_IMAGE (its Dockerfile: `adduser -u 100 ... clamav`). Numeric, so Kubernetes can verify runAsNonRoot. */
export const CLAMAV_UID = 100;

/** The user and group of RSPAMD_IMAGE (`USER 11333:11333`). */
export const RSPAMD_UID = 11333;
