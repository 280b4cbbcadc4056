// The layers of DESIGN.md, as rules. `npm run depcruise` and
// test/architecture/layers.test.ts check them; the test also proves each rule
// fires on a broken tree (test/fixtures/layering/).
//
//   cli/  →  stacks/  →  components/  →  mail-runtime/config (only)
//   policies/ is a self-contained pack: it imports nothing outside itself.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'runtime-stays-below',
      comment: 'mail-runtime/ is what a member process runs: it never imports components, stacks, policies or the operator CLI (and so never Pulumi).',
      severity: 'error',
      from: { path: '^mail-runtime/' },
      to: { path: '^(components|stacks|policies|cli)/' },
    },
    {
      name: 'runtime-never-imports-pulumi',
      comment: 'The runtime never imports Pulumi (DESIGN.md).',
      severity: 'error',
      from: { path: '^mail-runtime/' },
      to: { path: '@pulumi/' },
    },
    {
      name: 'components-use-only-runtime-config',
      comment: 'components/ renders RuntimeConfig; from mail-runtime it imports only the config schema, through its index.',
      severity: 'error',
      from: { path: '^components/' },
      to: { path: '^mail-runtime/', pathNot: '^mail-runtime/config/index\\.ts$' },
    },
    {
      name: 'components-stay-below',
      comment: 'components/ never imports the stacks, the policy pack or the CLI above it.',
      severity: 'error',
      from: { path: '^components/' },
      to: { path: '^(stacks|policies|cli)/' },
    },
    {
      name: 'policies-self-contained',
      comment: 'policies/ is installed and run on its own by `pulumi preview --policy-pack`: it imports nothing outside policies/.',
      severity: 'error',
      from: { path: '^policies/' },
      to: { path: '^(?!policies/)[^/]+/', dependencyTypesNot: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown', 'core'] },
    },
    {
      name: 'stacks-use-components-index',
      comment: 'stacks/ builds on the public surface of components/ (components/index.ts) and nothing else of ours.',
      severity: 'error',
      from: { path: '^stacks/' },
      to: { path: '^(components/(?!index\\.ts$)|mail-runtime/|policies/|cli/)' },
    },
    {
      name: 'program-runs-stacks',
      comment: 'program.ts (Pulumi.yaml main) only runs the stack program in stacks/.',
      severity: 'error',
      from: { path: '^program\\.ts$' },
      to: { path: '^(components|mail-runtime|policies|cli)/' },
    },
    {
      name: 'library-entry-is-components',
      comment: 'index.ts and plugin.ts (the npm library and Pulumi plugin entries) expose components/ and nothing else.',
      severity: 'error',
      from: { path: '^(index|plugin)\\.ts$' },
      to: { path: '^(mail-runtime|stacks|policies|cli)/' },
    },
    {
      name: 'nothing-imports-cli',
      comment: 'cli/ is the top layer: only its own files (and the bin/ launchers) import it.',
      severity: 'error',
      from: { pathNot: '^(cli|bin|test|bench)/' },
      to: { path: '^cli/' },
    },
    {
      name: 'no-cycles',
      comment: 'Import cycles make load order matter and hide layering mistakes.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.mts', '.cjs', '.json'] },
    moduleSystems: ['cjs', 'es6'],
  },
};
