export { REGISTRY } from './registry';
export { dispatch } from './dispatch';
export { capabilities } from './capabilities';
export { MailboxView } from './view';
export type { CommandResult, CommandSpec, ImapServices, MailboxProvider, SessionContext, SessionState } from './types';
