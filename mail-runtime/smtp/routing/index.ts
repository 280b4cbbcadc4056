export type { LmtpTarget, Route, Router } from './types';
export { StaticRouter, NoPlacementError, DirectoryUnavailableError, type StaticPlacement } from './static-router';
