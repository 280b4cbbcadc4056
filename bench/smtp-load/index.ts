export { loadMessage, percentile, smtpLoad, type SmtpLoadFigures } from './load';
export { smtpRows } from './rows';
