/**
 * The proxy role (DESIGN.md): login-aware routing of IMAP and POP3 clients
 * to the node that owns their mailbox, by the hub's placement rules.
 */
export { runProxy } from './main';
