export { startNode, type NodeOptions, type RunningNode } from './start';
export { nodeOptionsFromConfig } from './from-config';
