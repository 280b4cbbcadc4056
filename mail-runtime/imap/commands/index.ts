export type { ImapServices, MailboxProvider } from './types';
