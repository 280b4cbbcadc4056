import { spawnSync } from 'node:child_process';

/**
 * Feeds a network config (version 2) through cloud-init's own parser and its
 * ifupdown (ENI) renderer — the renderer Debian 12's cloud images use — and
 * returns the `/etc/network/interfaces` text cloud-init would write. Uses the
 * system Python, where the Debian `cloud-init` package installs its modules.
 */
const SCRIPT = `
import json, sys
from cloudinit.net import network_state, eni
cfg = json.load(sys.stdin)
ns = network_state.parse_net_config_data(cfg)
sys.stdout.write(eni.Renderer()._render_interfaces(ns))
`;

export function renderWithCloudInit(networkConfig: unknown): string {
  const r = spawnSync('/usr/bin/python3', ['-c', SCRIPT], { input: JSON.stringify(networkConfig), encoding: 'utf8', timeout: 30_000 });
  if (r.error || r.status !== 0) {
    throw new Error(
      `cloud-init's network renderer failed (is the Debian package cloud-init installed? .ci/run installs it):\n${r.error?.message ?? ''}${r.stderr ?? ''}`,
    );
  }
  return r.stdout;
}
