export { startNode, type NodeOptions, type RunningNode, type HostPort } from './start';
export { nodeOptionsFromConfig } from './from-config';
export { runNode } from './main';
export { storeMailboxProvider, storePop3Backend, type EpochSource } from './mailboxes';
