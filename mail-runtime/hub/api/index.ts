export { startHubApi, hubRoutes } from './server';
