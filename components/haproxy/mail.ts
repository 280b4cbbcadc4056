import type { RuntimeConfig } from '../../mail-runtime/config';
import type { RenderedMember } from '../render';
import { renderHaproxyConfig } from './haproxy';
import type { HaproxyConfigInput } from './schema';

/**
 * What a mail cluster's load balancer forwards: client service → the role
 * that serves it, the listener in that role's RuntimeConfig, and the standard
 * port clients use (RFC 5321 §4.5.4 smtp 25, RFC 6409 submission 587, RFC 8314
 * submissions 465 / imaps 993 / pop3s 995, RFC 9051 imap 143, RFC 1939 pop3 110).
 */
export const MAIL_SERVICES = [
  { service: 'smtp', role: 'gateway', listener: 'smtp', port: 25 },
  { service: 'submission', role: 'proxy', listener: 'submission', port: 587 },
  { service: 'smtps', role: 'proxy', listener: 'smtps', port: 465 },
  { service: 'imap', role: 'proxy', listener: 'imap', port: 143 },
  { service: 'imaps', role: 'proxy', listener: 'imaps', port: 993 },
  { service: 'pop3', role: 'proxy', listener: 'pop3', port: 110 },
  { service: 'pop3s', role: 'proxy', listener: 'pop3s', port: 995 },
  // The hub's admin API (HTTPS, terminated by the hub): only when asked for.
  { service: 'admin', role: 'hub', listener: 'http', port: 443 },
] as const;
export type MailService = (typeof MAIL_SERVICES)[number]['service'];

export interface MailHaproxyArgs {
  proxies: readonly RenderedMember[];
  gateways: readonly RenderedMember[];
  hubs: readonly RenderedMember[];
  /** Forward 443 to the hubs' admin API. Off by default (spec.admin.public; policies reject it in production). */
  admin?: boolean;
  /** Address HAProxy reaches a member on. Default: `member.address` (container name or VM address). */
  addressOf?: (member: RenderedMember) => string;
  /** Port HAProxy binds for a service. Default: the standard port. */
  bindPort?: (service: MailService, standardPort: number) => number;
  /** See Backend.sendProxyV2 (off by default): every backend, or only those of the services listed. */
  sendProxyV2?: boolean | readonly MailService[];
  /** Renderer options passed through unchanged (log, stats socket, resolvers, runAs, maxconn, timeouts). */
  base?: Omit<HaproxyConfigInput, 'frontends' | 'backends'>;
}

export interface MailHaproxyPlan {
  config: HaproxyConfigInput;
  /** Services that got a frontend, with the port HAProxy binds for each. */
  services: Partial<Record<MailService, number>>;
}

function listenerPort(config: RuntimeConfig, listener: string): number | undefined {
  const listen = config.listen as Record<string, { port: number } | undefined>;
  return listen[listener]?.port;
}

/**
 * Builds renderer input for a mail cluster from the members' own
 * RuntimeConfigs: the backend port of each server is the port the member
 * really listens on, and its health check goes to the member's management
 * port (GET /readyz). A service gets a frontend only when at least one member
 * of its role listens for it, so the load balancer never advertises a port
 * nothing serves.
 */
export function mailHaproxyConfig(args: MailHaproxyArgs): MailHaproxyPlan {
  const membersOf = { proxy: args.proxies, gateway: args.gateways, hub: args.admin ? args.hubs : [] } as const;
  const addressOf = args.addressOf ?? ((m: RenderedMember) => m.address);
  const frontends: HaproxyConfigInput['frontends'] = [];
  const backends: HaproxyConfigInput['backends'] = [];
  const services: Partial<Record<MailService, number>> = {};
  for (const s of MAIL_SERVICES) {
    const servers = membersOf[s.role].flatMap((m) => {
      const port = listenerPort(m.config, s.listener);
      return port === undefined ? [] : [{ name: m.memberId, address: addressOf(m), port, checkPort: m.config.management.port }];
    });
    if (servers.length === 0) continue;
    const backend = `${s.service}-${s.role === 'proxy' ? 'proxies' : `${s.role}s`}`;
    const bind = args.bindPort ? args.bindPort(s.service, s.port) : s.port;
    frontends.push({ name: s.service, port: bind, backend });
    backends.push({ name: backend, balance: 'leastconn', sendProxyV2: Array.isArray(args.sendProxyV2) ? args.sendProxyV2.includes(s.service) : args.sendProxyV2 === true, healthCheck: { kind: 'http', path: '/readyz' }, servers });
    services[s.service] = bind;
  }
  return { config: { ...args.base, frontends, backends }, services };
}

/** mailHaproxyConfig + renderHaproxyConfig. */
export function renderMailHaproxyConfig(args: MailHaproxyArgs): string {
  return renderHaproxyConfig(mailHaproxyConfig(args).config);
}
