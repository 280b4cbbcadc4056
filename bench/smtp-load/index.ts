export { smtpLoad, loadMessage, percentile, type SmtpLoadOptions, type SmtpLoadFigures, type Percentiles } from './load';
export { smtpRows } from './rows';
export { runSmtpAnchorBench, SMTP_SIZES, SMTP_SENDERS, SMTP_USERS } from './anchor-suite';
