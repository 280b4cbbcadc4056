export { startPop3Server, type Pop3Server } from './server';
export type { Pop3Backend, Pop3Maildrop } from './maildrop';
export { MaildropInUseError } from './maildrop';
