import { describe, expect, it } from 'vitest';
import { renderKeepalivedAuthFile, renderKeepalivedConfig, type KeepalivedArgsInput } from '../../../components/haproxy';
import { SpecError } from '../../../components/spec';
import { keepalivedCheck, localInterface } from './validators';

const args = (over: Partial<KeepalivedArgsInput> = {}): KeepalivedArgsInput => ({
  name: 'mail-vs',
  vip: '10.40.0.8',
  vipPrefix: 23,
  interface: 'ens192',
  priority: 150,
  virtualRouterId: 51,
  sourceAddress: '10.40.0.15',
  peers: ['10.40.0.16'],
  authPassFile: '/etc/keepalived/vrrp-auth.conf',
  ...over,
});

const problems = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    if (err instanceof SpecError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
};

describe('renderKeepalivedConfig', () => {
  it('matches its snapshot', async () => {
    await expect(renderKeepalivedConfig(args())).toMatchFileSnapshot('__snapshots__/lb-0.keepalived.conf');
  });

  it('passes keepalived -t with the auth include present', () => {
    const text = renderKeepalivedConfig(args({ interface: localInterface(), authPassFile: '/PLACEHOLDER/auth.conf' })).replace('/PLACEHOLDER', '@DIR@');
    const r = keepalivedCheck(text, { 'auth.conf': renderKeepalivedAuthFile('s3cretPw') });
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('the validator really rejects a broken config (the check can fail)', () => {
    const broken = renderKeepalivedConfig(args({ interface: localInterface(), authPassFile: undefined })).replace('advert_int 1', 'advert_intervals 1');
    expect(keepalivedCheck(broken).status).not.toBe(0);
  });

  it('keepalived -t notices a missing auth file (so the include is really read)', () => {
    const text = renderKeepalivedConfig(args({ interface: localInterface(), authPassFile: '/PLACEHOLDER/missing.conf' })).replace('/PLACEHOLDER', '@DIR@');
    const r = keepalivedCheck(text);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/missing/i);
  });

  it('never contains the password: only an include of the secret file', () => {
    const text = renderKeepalivedConfig(args());
    expect(text).toContain('include /etc/keepalived/vrrp-auth.conf');
    expect(text).not.toMatch(/auth_pass/);
  });

  it('uses unicast to every peer and tracks HAProxy', () => {
    const text = renderKeepalivedConfig(args({ peers: ['10.40.0.16', '10.40.0.17'] }));
    expect(text).toContain('    unicast_peer {\n        10.40.0.16\n        10.40.0.17\n    }');
    expect(text).toContain('10.40.0.8/23 dev ens192');
    expect(text).toMatch(/track_script \{\n\s+chk_haproxy/);
    expect(text).toContain('state BACKUP');
  });

  it('without authPassFile there is no authentication block (and keepalived -t passes)', () => {
    const text = renderKeepalivedConfig(args({ interface: localInterface(), authPassFile: undefined }));
    expect(text).not.toContain('authentication');
    expect(keepalivedCheck(text).status).toBe(0);
  });

  it.each<[string, Partial<KeepalivedArgsInput>, RegExp]>([
    ['priority 255 (reserved for the address owner)', { priority: 255 }, /^priority:/],
    ['router id 0', { virtualRouterId: 0 }, /^virtualRouterId:/],
    ['bad VIP', { vip: '10.40.0.300' }, /^vip:/],
    ['no peers', { peers: [] }, /^peers: a VRRP pair needs at least one peer/],
    ['itself as peer', { peers: ['10.40.0.15'] }, /^peers\[0\]: a peer cannot be this machine/],
    ['interface with a space', { interface: 'eth0 x' }, /^interface:/],
    ['relative auth file', { authPassFile: 'auth.conf' }, /^authPassFile:/],
    ['quoted check command', { checkCommand: '/bin/true"; rm -rf /' }, /^checkCommand:/],
  ])('rejects %s', (_what, over, expected) => {
    const p = problems(() => renderKeepalivedConfig(args(over)));
    expect(p.some((x) => expected.test(x)), p.join('\n')).toBe(true);
  });
});

describe('renderKeepalivedAuthFile', () => {
  it('renders auth_pass', () => {
    expect(renderKeepalivedAuthFile('abcd1234')).toBe('auth_pass abcd1234\n');
  });
  it.each(['', 'longer-than-8', 'with space', 'a#b', 'new\nline'])('rejects %j (VRRP PASS is 1–8 printable octets)', (pw) => {
    expect(problems(() => renderKeepalivedAuthFile(pw))).toHaveLength(1);
  });
});
