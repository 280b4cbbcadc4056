import { describe, expect, it } from 'vitest';
import { certificateSwitch, loadTls } from '../../mail-runtime/net';
import { makeLeaf } from '../helpers/pki';

/** net/tls.ts certificateSwitch: what the cluster settings' `tls` section does to a member's certificate. */
describe('certificateSwitch', () => {
  it('serves a new pair, refuses one whose key is not the certificate’s (changing nothing, naming why), and goes back to the own one', async () => {
    const material = await loadTls(undefined, 'switch.test');
    const own = { cert: material.cert, context: material.context, selfSigned: material.selfSigned };
    const apply = certificateSwitch(material);
    const a = await makeLeaf(['a.test']);
    const b = await makeLeaf(['b.test']);
    apply({ certPem: a.cert, keyPem: a.key });
    expect(material.cert).toBe(a.cert);
    expect(material.selfSigned).toBe(false);
    expect(material.context).not.toBe(own.context);
    expect(() => apply({ certPem: a.cert, keyPem: b.key })).toThrow(/cluster settings cannot be used: the key does not belong to the certificate/);
    expect(() => apply({ certPem: 'not a certificate', keyPem: a.key })).toThrow(/cluster settings cannot be used/);
    expect(material.cert).toBe(a.cert);
    apply(undefined);
    expect(material.cert).toBe(own.cert);
    expect(material.selfSigned).toBe(own.selfSigned);
  });
});
