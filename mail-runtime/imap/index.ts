/**
 * IMAP server of the node role: sessions over the command reader and
 * response compiler (./protocol), one file per command (./commands).
 */
export { startImapServer, type ImapServer } from './server';
export type { ImapServices, MailboxProvider } from './commands';
export { capabilities } from './commands/capabilities';
