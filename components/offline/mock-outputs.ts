import { createHash } from 'node:crypto';

/**
 * Output state a real provider would compute, faked deterministically for
 * offline runs (preview and tests): generated secrets, keys, addresses.
 * Platform adapters add theirs in components/platforms/<kind>/mocks.ts.
 */
export type MockOutputs = (type: string, name: string, inputs: Record<string, unknown>) => Record<string, unknown> | undefined;

const digest = (s: string) => createHash('sha256').update(s).digest('hex');

export const commonMockOutputs: MockOutputs = (type, name) => {
  switch (type) {
    case 'random:index/randomPassword:RandomPassword':
      return { result: `mock-${digest(name).slice(0, 40)}` };
    case 'tls:index/privateKey:PrivateKey':
      return {
        privateKeyPem: `-----BEGIN PRIVATE KEY-----\nmock-${digest(name).slice(0, 32)}\n-----END PRIVATE KEY-----\n`,
        publicKeyPem: `-----BEGIN PUBLIC KEY-----\nmock-${digest(`${name}.pub`).slice(0, 32)}\n-----END PUBLIC KEY-----\n`,
      };
    case 'tls:index/certRequest:CertRequest':
      return { certRequestPem: `-----BEGIN CERTIFICATE REQUEST-----\nmock-${digest(name).slice(0, 32)}\n-----END CERTIFICATE REQUEST-----\n` };
    case 'tls:index/locallySignedCert:LocallySignedCert':
    case 'tls:index/selfSignedCert:SelfSignedCert':
      return { certPem: `-----BEGIN CERTIFICATE-----\nmock-${digest(name).slice(0, 32)}\n-----END CERTIFICATE-----\n` };
    default:
      return undefined;
  }
};

/** First fake that answers wins. */
export function composeMockOutputs(...fakes: MockOutputs[]): (type: string, name: string, inputs: Record<string, unknown>) => Record<string, unknown> {
  return (type, name, inputs) => {
    for (const f of fakes) {
      const r = f(type, name, inputs);
      if (r) return r;
    }
    return {};
  };
}
