export { dispatch } from './dispatch';
export type { ClientLine, CommandResult, GateContext, Pop3Services, Pop3State } from './types';
