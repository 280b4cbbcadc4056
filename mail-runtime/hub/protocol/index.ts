/**
 * The cluster contract: every member ↔ hub message and every admin API body,
 * as zod schemas, plus the placement rules every member evaluates the same
 * way. The hub (mail-runtime/hub), the member client (mail-runtime/cluster),
 * the proxy and the operator CLI build on this and nothing else of the hub.
 * Changes within protocol version 1 are additive only (common.ts).
 */
export * from './common';
export * from './placement';
export * from './settings';
export * from './cluster';
export * from './admin';
