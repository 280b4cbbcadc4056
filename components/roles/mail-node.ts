import type * as pulumi from '@pulumi/pulumi';
import { RoleComponent, type RoleArgs } from './role';

/** The node members of a cluster — mailbox access (IMAP, POP3, LMTP, submission) for the mailboxes placed on it. */
export class MailNode extends RoleComponent {
  static readonly type = 'mailfleet:index:MailNode';
  constructor(name: string, args: RoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super(MailNode.type, 'node', name, args, opts);
  }
}
