export { RuntimeConfig, RUNTIME_ROLES, Listen, TlsFiles } from './schema';
export type { RuntimeRole, RuntimeConfigInput, RuntimeConfigOf } from './schema';
export { loadRuntimeConfig, parseRuntimeConfig, readConfigFile, ENV_VARS } from './load';
export type { LoadOptions } from './load';
export { SpecError } from './validation';
export type { FieldProblem } from './validation';
