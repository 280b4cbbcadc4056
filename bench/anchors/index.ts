export { anchors, findAnchors, installSteps, type RunCommand } from './install';
export { startDovecot, cheapDovecotHash, doveadmHash, type DovecotInstance } from './dovecot';
export { dovecotConfig, passwdFile, DOVECOT_DEVIATIONS, type DovecotConfigInput, type PasswdEntry } from './dovecot-config';
export { postfixMainCf, postfixMasterCf, postfixRecipients, POSTFIX_DEVIATIONS } from './postfix-config';
/** @public For bench/smtp: the anchor side of the SMTP comparison (see bench/README.md). */
export { anchorSmtpTarget, type SmtpTarget } from './smtp-target';
export { treeMemory, processTree, type TreeMemory } from './procmem';
export { durabilityStatements } from './durability';
