export { startGateway, type GatewayOptions, type RunningGateway } from './start';
export { gatewayOptionsFromConfig } from './from-config';
