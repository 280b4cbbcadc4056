import type { PowerTarget } from '../../config';
import { dockerPower } from './docker';
import { kubernetesPower } from './kubernetes';
import { proxmoxPower } from './proxmox';
import { vspherePower } from './vsphere';
import type { PowerAdapter } from './types';

export { PowerError } from './http';
export type { PowerAdapter } from './types';

/** The adapter for a member's platform, from its validated PowerTarget. */
export function powerAdapter(t: PowerTarget): PowerAdapter {
  switch (t.kind) {
    case 'kubernetes':
      return kubernetesPower(t);
    case 'docker':
      return dockerPower(t);
    case 'proxmox':
      return proxmoxPower(t);
    case 'vsphere':
      return vspherePower(t);
  }
}
