/**
 * The shared load-balancer configuration of the VM and container platforms
 * (docker, proxmox, vsphere): HAProxy in TCP passthrough mode in front of the
 * proxies and gateways, and keepalived for a virtual IP on VM platforms.
 * Pure functions: text in, text out; validation errors are SpecErrors naming
 * the field (wrap them in pulumi.ResourceError at the component boundary).
 */
export { renderHaproxyConfig, parseHaproxyConfig, formatSeconds, GENERATED_HEADER } from './haproxy';
export {
  HaproxyConfig,
  HealthCheck,
  MIN_IDLE_TIMEOUT_SECONDS,
  type HaproxyConfigInput,
  type Backend,
  type Frontend,
  type Server,
} from './schema';
export { mailHaproxyConfig, renderMailHaproxyConfig, MAIL_SERVICES, type MailHaproxyArgs, type MailHaproxyPlan, type MailService } from './mail';
export {
  renderKeepalivedConfig,
  renderKeepalivedAuthFile,
  parseKeepalivedArgs,
  KeepalivedArgs,
  KEEPALIVED_AUTH_FILE,
  VRRP_PASS_MAX,
  type KeepalivedArgsInput,
} from './keepalived';
