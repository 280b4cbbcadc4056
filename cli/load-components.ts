/**
 * components/ on first use. Its index brings @pulumi/* with it (about 1.7 s
 * of CPU to load), which most commands never need: `mailfleet run` (how
 * every member process starts), the operator commands, `failover`, `queue`,
 * `user` and `--help` do not touch a topology. Only validate, render, up
 * and `--version` load it, when they run.
 */
export function loadComponents(): typeof import('../components') {
  // A plain require, not import(): in the compiled dist/ an import() is an ESM
  // load, which cannot name a folder's index.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../components') as typeof import('../components');
}
