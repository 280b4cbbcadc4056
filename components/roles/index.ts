export { Hub } from './hub';
export { MailNode } from './mail-node';
export { Gateway } from './gateway';
export { Proxy } from './proxy';
export { SharedStorage } from './shared-storage';
export { LoadBalancer } from './load-balancer';
