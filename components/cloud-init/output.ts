import * as pulumi from '@pulumi/pulumi';
import { notYetComputed } from '../computed';
import { renderLoadBalancerUserData, type LoadBalancerUserDataArgs } from './load-balancer';
import { renderMemberUserData, type MemberUserDataArgs } from './member';
import { requiredSecrets, type SecretName } from './secret-files';

/**
 * The Pulumi side of the renderers: resolve secret inputs, render, and mark
 * the whole user data secret. Missing secrets are detected synchronously
 * (before any apply), because throwing inside apply hangs the program.
 */

export type SecretInputs = Partial<Record<SecretName, pulumi.Input<string>>>;

export interface MemberUserDataInputs extends Omit<MemberUserDataArgs, 'secrets'> {
  secrets: SecretInputs;
}

/**
 * Member user data as a secret Output. Only the secrets the member's config
 * references are resolved (and shipped). Throws `pulumi.ResourceError` (with
 * `parent`) or Error when one is missing.
 */
export function memberUserData(args: MemberUserDataInputs, parent?: pulumi.Resource): pulumi.Output<string> {
  const needed = requiredSecrets(args.member.config);
  const missing = needed.filter((n) => args.secrets[n] === undefined);
  if (missing.length) {
    const msg = `member ${args.member.memberId} needs secret(s) ${missing.join(', ')} for the files its config names`;
    throw parent ? new pulumi.ResourceError(msg, parent) : new Error(msg);
  }
  const inputs = Object.fromEntries(needed.map((n) => [n, pulumi.output(args.secrets[n]!)]));
  return pulumi.secret(
    pulumi
      .all(inputs)
      .apply((plain) =>
        // Generated secrets (the cluster token) are provider-computed: render once they exist (see notYetComputed).
        needed.some((n) => plain[n] === undefined) ? notYetComputed<string>() : renderMemberUserData({ ...args, secrets: plain as Partial<Record<SecretName, string>> }),
      ),
  );
}

export type LoadBalancerUserDataInputs = Omit<LoadBalancerUserDataArgs, 'haproxyConfig' | 'keepalivedConfig' | 'extraFiles'> & {
  haproxyConfig: pulumi.Input<string>;
  keepalivedConfig?: pulumi.Input<string>;
  /** Extra root-only files, e.g. keepalived's VRRP auth file (a secret). */
  extraFiles?: readonly { path: string; content: pulumi.Input<string> }[];
};

/**
 * Load-balancer user data. Marked secret when extra files are given (they
 * hold secrets such as the VRRP password) and whenever any input is secret
 * (Pulumi propagates secretness through apply); plain otherwise — HAProxy
 * and keepalived configs themselves hold no secrets.
 */
export function loadBalancerUserData(args: LoadBalancerUserDataInputs): pulumi.Output<string> {
  const extra = args.extraFiles ?? [];
  const out = pulumi
    .all([
      pulumi.output(args.haproxyConfig),
      args.keepalivedConfig === undefined ? pulumi.output<string | undefined>(undefined) : pulumi.output(args.keepalivedConfig),
      pulumi.all(extra.map((f) => pulumi.output(f.content))),
    ])
    .apply(([haproxyConfig, keepalivedConfig, contents]) =>
      renderLoadBalancerUserData({
        ...args,
        haproxyConfig,
        keepalivedConfig,
        extraFiles: extra.map((f, i) => ({ path: f.path, content: contents[i]! })),
      }),
    );
  return extra.length ? pulumi.secret(out) : out;
}
