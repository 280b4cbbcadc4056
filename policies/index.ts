// The policy pack entry: `pulumi preview --policy-pack policies`.
//
// The ONLY file that calls `new PolicyPack`: it starts the analyzer's gRPC
// server, and a second PolicyPack in one process exits it. Tests and the
// offline gate import ./policies instead, never this file.
import { PolicyPack } from '@pulumi/policy';
import { POLICY_PACK_DESCRIPTION, POLICY_PACK_NAME, policies } from './policies';

new PolicyPack(POLICY_PACK_NAME, {
  policies: [...policies],
  // Each policy states its own level (11, 12 and 13 advisory); anything new defaults to blocking.
  enforcementLevel: 'mandatory',
  description: POLICY_PACK_DESCRIPTION,
  displayName: 'mailfleet: safe mail topologies',
  tags: ['mail', 'ha', 'security'],
});
