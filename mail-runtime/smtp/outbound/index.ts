/**
 * Mail leaving the cluster: the outbound transport the gateway's delivery
 * workers call, the DSNs they queue, and
 * SRS reversal for bounces that come back to a forwarded message.
 */
export type { OutboundTransport } from './types';
export { SmtpOutbound } from './transport';
export type { OutboundSettings } from './transport';
export { buildDsn, buildDelayDsn } from './dsn';
export { Srs, SrsError } from './srs';
export { httpsPolicyFetcher } from './mta-sts';
