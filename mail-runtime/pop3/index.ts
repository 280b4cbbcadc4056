export { startPop3Server, type Pop3Server, type Pop3ServerOptions } from './server';
export type { Pop3Backend, Pop3Maildrop, Pop3Message } from './maildrop';
export { MaildropInUseError } from './maildrop';
