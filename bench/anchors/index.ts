export { anchors, findAnchors, installSteps, missingAnchorPackages, ANCHOR_PACKAGES, type AnchorAvailability } from './install';
export { startDovecot, cheapDovecotHash, doveadmHash, type DovecotInstance } from './dovecot';
export { dovecotConfig, passwdFile, DOVECOT_DEVIATIONS, type DovecotConfigInput, type PasswdEntry } from './dovecot-config';
export { startPostfix, type PostfixInstance } from './postfix';
export { postfixMainCf, postfixMasterCf, postfixRecipients, POSTFIX_DEVIATIONS, type PostfixConfigInput } from './postfix-config';
export { anchorSmtpTarget, type SmtpTarget } from './smtp-target';
export { treeMemory, processTree, type TreeMemory } from './procmem';
export { durabilityStatements } from './durability';
