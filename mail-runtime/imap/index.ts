/**
 * IMAP server of the node role: sessions over the command reader and
 * response compiler (./protocol), one file per command (./commands).
 */
export { startImapServer, type ImapServer, type ImapServerOptions } from './server';
export { ImapSession, type ImapSessionOptions } from './session';
export type { ImapServices, MailboxProvider, SessionState } from './commands';
