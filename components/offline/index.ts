/**
 * Running Pulumi programs without a cloud (DESIGN.md "Verification without a
 * cloud"): a capture of every registered resource under
 * `pulumi.runtime.setMocks`, and fakes for what each platform's provider
 * would compute. The offline preview (`npm run preview`), the tests and
 * users' own unit tests build on this; no deployment path imports it.
 */
export {
  installCapture,
  isSecretValue,
  unwrapSecrets,
  redactSecrets,
  secretPaths,
  SECRET_SIG,
  SPECIAL_SIG_KEY,
} from './capture';
export type { Capture, CapturedResource, CapturedInvoke, CaptureOptions } from './capture';
export { commonMockOutputs, composeMockOutputs } from './mock-outputs';
export type { MockOutputs } from './mock-outputs';
export { platformInvokeResult, platformMockOutputs } from './platform-mocks';
