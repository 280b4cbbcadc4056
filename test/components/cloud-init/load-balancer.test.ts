import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { HAPROXY_CONFIG_PATH, KEEPALIVED_CONFIG_PATH, renderLoadBalancerUserData, renderNetworkConfig, type WriteFile } from '../../../components/cloud-init';
import { cloudInitSchema, isValidCloudConfig } from './validate';

const haproxyConfig = 'global\n  daemon\ndefaults\n  mode tcp\nfrontend imap\n  bind :143\n  default_backend proxies\nbackend proxies\n  server p0 10.0.0.40:143 check\n';
const keepalivedConfig = 'vrrp_instance VI_1 {\n  state BACKUP\n  virtual_router_id 51\n  virtual_ipaddress {\n    10.0.0.8\n  }\n}\n';

describe('load-balancer user data', () => {
  const text = renderLoadBalancerUserData({ hostname: 'mail-lb-0', domain: 'example.net', haproxyConfig, keepalivedConfig });
  const doc = parse(text) as { packages: string[]; write_files: WriteFile[]; runcmd: string[][] };

  it('matches the snapshot', () => {
    expect(text).toMatchSnapshot();
  });

  it('installs haproxy and keepalived with the given configs and enables both', () => {
    expect(doc.packages).toEqual(['haproxy', 'keepalived']);
    expect(doc.write_files.find((f) => f.path === HAPROXY_CONFIG_PATH)?.content).toBe(haproxyConfig);
    const ka = doc.write_files.find((f) => f.path === KEEPALIVED_CONFIG_PATH)!;
    expect(ka.content).toBe(keepalivedConfig);
    expect(ka.permissions).toBe('0600');
    expect(doc.write_files.some((f) => f.content.includes('ip_nonlocal_bind = 1'))).toBe(true);
    expect(doc.runcmd).toContainEqual(['systemctl', 'enable', 'haproxy', 'keepalived']);
    expect(doc.runcmd).toContainEqual(['haproxy', '-c', '-f', HAPROXY_CONFIG_PATH]);
  });

  it('without keepalived: haproxy only', () => {
    const single = parse(renderLoadBalancerUserData({ hostname: 'lb', haproxyConfig })) as typeof doc;
    expect(single.packages).toEqual(['haproxy']);
    expect(single.write_files.map((f) => f.path)).toEqual([HAPROXY_CONFIG_PATH]);
  });

  it('is accepted by cloud-init schema', () => {
    const r = cloudInitSchema(text);
    expect(isValidCloudConfig(r), r.output).toBe(true);
  });
});

describe('network config v2', () => {
  it('renders a static address, default route and resolvers', () => {
    const text = renderNetworkConfig({ address: '10.0.0.40', prefix: 24, gateway: '10.0.0.1', dns: ['10.0.0.2', '1.1.1.1'], searchDomain: 'example.net' });
    expect(text).toMatchSnapshot();
    expect(parse(text)).toEqual({
      version: 2,
      ethernets: {
        primary: {
          match: { name: 'e*' },
          dhcp4: false,
          addresses: ['10.0.0.40/24'],
          routes: [{ to: '0.0.0.0/0', via: '10.0.0.1' }],
          nameservers: { addresses: ['10.0.0.2', '1.1.1.1'], search: ['example.net'] },
        },
      },
    });
  });
});
