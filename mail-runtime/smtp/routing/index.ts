export type { LmtpTarget, Route, Router } from './types';
export { StaticRouter, NoPlacementError, type StaticPlacement } from './static-router';
