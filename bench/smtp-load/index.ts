export { loadMessage, percentile } from './load';
export { smtpRows } from './rows';
export { runSmtpAnchorBench } from './anchor-suite';

// The API bench/smtp (the gateway's suite) uses; see bench/README.md.
/** @public */
export { smtpLoad, type SmtpLoadOptions, type SmtpLoadFigures } from './load';
/** @public */
export { SMTP_SIZES, SMTP_SENDERS, SMTP_USERS } from './anchor-suite';
