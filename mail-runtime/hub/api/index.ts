export { startHubApi, hubRoutes, type HubApi, type HubApiOptions } from './server';
export { openApiDocument } from './openapi';
