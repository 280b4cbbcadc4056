/**
 * Mail leaving the cluster: the outbound transport the gateway's delivery
 * workers call, the retry schedule they follow, the DSNs they queue, and
 * SRS reversal for bounces that come back to a forwarded message.
 */
export type { OutboundTransport, OutboundConfig, RetrySchedule } from './types';
export { SmtpOutbound } from './transport';
export type { OutboundSettings, OutboundDeps } from './transport';
export { nextAttempt, expiryFor } from './retry';
export type { NextAttempt } from './retry';
export { buildDsn, buildDelayDsn } from './dsn';
export type { DsnMessage, DsnOptions, DsnRecipient } from './dsn';
export { Srs, SrsError } from './srs';
export { httpsPolicyFetcher } from './mta-sts';
export type { PolicyFetcher } from './mta-sts';
export type { TlsReport } from './tls-report';
