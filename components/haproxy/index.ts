/**
 * The shared load-balancer configuration of the VM and container platforms
 * (docker, proxmox, vsphere): HAProxy in TCP passthrough mode in front of the
 * proxies and gateways, and keepalived for a virtual IP on VM platforms.
 * Pure functions: text in, text out; validation errors are SpecErrors naming
 * the field (wrap them in pulumi.ResourceError at the component boundary).
 */
export { renderHaproxyConfig } from './haproxy';
export { type HaproxyConfigInput } from './schema';
export { mailHaproxyConfig, renderMailHaproxyConfig, MAIL_SERVICES, type MailService } from './mail';
export { renderKeepalivedConfig, renderKeepalivedAuthFile, KEEPALIVED_AUTH_FILE, VRRP_PASS_MAX, type KeepalivedArgsInput } from './keepalived';
