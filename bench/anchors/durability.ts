import type { DovecotInstance } from './dovecot';

/**
 * What "durable acknowledgement" means on each side, as stated in every
 * results file. The bench leaves every durability setting at its default;
 * the one Dovecot setting that governs it is read back from the running
 * instance so the statement is checked, not assumed.
 */
export function durabilityStatements(dovecot?: DovecotInstance): string[] {
  const fsync = dovecot?.setting('mail_fsync');
  return [
    'Durable acknowledgement, mailfleet: APPEND OK, LMTP 250 and the gateway\'s 250 only after the message is fsynced on the storage (DESIGN.md: group commit allowed, never skipped).',
    `Durable acknowledgement, Dovecot: mail_fsync = ${fsync ?? 'optimized'} (${fsync ? 'read back from the running instance with doveconf' : 'its default'}): the saved Maildir file is fsynced before APPEND OK and before LMTP 250; left at the default.`,
    'Durable acknowledgement, Postfix: cleanup(8) fsyncs the queue file before smtpd(8) answers 250 to the end of DATA; Postfix has no setting that turns this off. Delivery to Dovecot then happens after the 250 (LMTP, itself fsynced).',
  ];
}
