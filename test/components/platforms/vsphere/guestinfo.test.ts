import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GUESTINFO, decodeGuestinfo, guestMetadata, guestinfoExtraConfig, staticMacAddress } from '../../../../components/platforms/vsphere/guestinfo';
import { cloneDisks, vcpus } from '../../../../components/platforms/vsphere/vm';
import { priorityFor, virtualRouterIdFor } from '../../../../components/platforms/vsphere/load-balancer';
import { intToIpv4 } from '../../../../mail-runtime/config/validation';

const net = { address: '10.40.0.60', cidr: '10.40.0.0/23', gateway: '10.40.0.1', dns: ['10.40.0.2'], searchDomain: 'corp.example.com', macAddress: '00:50:56:28:00:3c' };

describe('guestinfo', () => {
  it('round-trips user data (with PEM and non-ASCII bytes) and metadata through base64 extraConfig', () => {
    const userData = '#cloud-config\nwrite_files:\n  - content: "-----BEGIN PRIVATE KEY-----\\nx\\n"\n# Grüße\n';
    const md = guestMetadata('mail-vs-node-0', net, userData);
    const extra = guestinfoExtraConfig(userData, md);
    expect(extra[GUESTINFO.userdata]).toMatch(/^[A-Za-z0-9+/=]+$/);
    expect(decodeGuestinfo(extra)).toEqual({ userData, metadata: md });
    expect(() => decodeGuestinfo({ ...extra, [GUESTINFO.userdataEncoding]: 'gzip+base64' })).toThrow(/not base64/);
    expect(() => decodeGuestinfo({})).toThrow(/no guestinfo.userdata/);
  });

  it('changes the instance id when user data changes, so cloud-init re-applies it after the reboot', () => {
    const a = guestMetadata('h', net, 'one');
    expect(guestMetadata('h', net, 'one')['instance-id']).toBe(a['instance-id']);
    expect(guestMetadata('h', net, 'two')['instance-id']).not.toBe(a['instance-id']);
    expect(a['instance-id']).toMatch(/^h-[0-9a-f]{12}$/);
    expect(a.network.ethernets.lan0).toMatchObject({ match: { macaddress: net.macAddress }, 'set-name': 'lan0', addresses: ['10.40.0.60/23'], nameservers: { addresses: ['10.40.0.2'], search: ['corp.example.com'] } });
  });

  it('static MACs stay in VMware\'s manual range and differ for every address of a /10', () => {
    expect(staticMacAddress('10.40.0.60')).toBe('00:50:56:28:00:3c');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 1, max: 2 ** 22 - 1 }), (base, delta) => {
        const a = intToIpv4((base & ~0x3fffff) >>> 0);
        const b = intToIpv4(((base & ~0x3fffff) + delta) >>> 0);
        const ma = staticMacAddress(a);
        expect(ma).toMatch(/^00:50:56:[0-3][0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2}$/);
        expect(staticMacAddress(b)).not.toBe(ma);
      }),
      { numRuns: 200 },
    );
  });
});

describe('VM sizing helpers', () => {
  it('rounds fractional CPUs up to whole vCPUs', () => {
    expect([0.25, 1, 1.5, 4].map(vcpus)).toEqual([1, 1, 2, 4]);
  });

  it('declares every template disk and only grows the root disk', () => {
    expect(cloneDisks(undefined, 20)).toEqual([{ label: 'disk0', size: 20 }]);
    const t = { disks: [{ label: 'Hard disk 1', size: 16, thinProvisioned: true, eagerlyScrub: false, unitNumber: 0 }, { label: 'Hard disk 2', size: 50, thinProvisioned: false, eagerlyScrub: false, unitNumber: 1 }] };
    expect(cloneDisks(t, 10).map((d) => [d.label, d.size, d.unitNumber])).toEqual([['disk0', 16, 0], ['disk1', 50, 1]]);
    expect(cloneDisks(t, 40)[0]!.size).toBe(40);
  });
});

describe('keepalived parameters', () => {
  it('derives a valid VRRP router id from the VIP, distinct for VIPs of one /23', () => {
    const ids = new Set<number>();
    for (let i = 1; i < 511; i++) {
      const id = virtualRouterIdFor(intToIpv4(0x0a280000 + i));
      expect(id).toBeGreaterThanOrEqual(1);
      expect(id).toBeLessThanOrEqual(255);
      ids.add(id);
    }
    // 510 usable addresses over 255 ids: at most two VIPs share one, and only 255 addresses apart.
    expect(ids.size).toBe(255);
    expect(virtualRouterIdFor('10.40.0.8')).not.toBe(virtualRouterIdFor('10.40.0.9'));
  });

  it('prefers the first replica and keeps priorities inside 1..254', () => {
    const p = [0, 1, 2, 3, 4].map(priorityFor);
    expect([...p].sort((a, b) => b - a)).toEqual(p);
    expect(Math.min(...p)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...p)).toBeLessThanOrEqual(254);
  });
});
