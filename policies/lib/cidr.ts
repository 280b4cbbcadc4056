/** IPv4 CIDR arithmetic the rules need (the pack carries its own: it is installed alone). */

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

function cidrContains(cidr: string, ip: string): boolean {
  const [base, bitsText] = cidr.split('/') as [string, string];
  const bits = Number(bitsText);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((ipv4ToInt(base) & mask) >>> 0) === ((ipv4ToInt(ip) & mask) >>> 0);
}

/** RFC 1918 private ranges plus loopback (RFC 1122 §3.2.1.3): the only networks a relay or admin list may name. */
export function isPrivateCidr(cidr: string): boolean {
  const [base, bitsText] = cidr.split('/') as [string, string];
  const bits = Number(bitsText);
  const ranges: Array<[string, number]> = [
    ['10.0.0.0', 8],
    ['172.16.0.0', 12],
    ['192.168.0.0', 16],
    ['127.0.0.0', 8],
  ];
  return ranges.some(([net, prefix]) => bits >= prefix && cidrContains(`${net}/${prefix}`, base));
}
