export type { LmtpTarget, Route, Router } from './types';
export { StaticRouter, NoPlacementError, domainOf, type StaticPlacement, type StaticRouterOptions } from './static-router';
