/**
 * The mailfleet library: what `import … from 'mailfleet'` gives a Pulumi
 * TypeScript or JavaScript program (package.json `exports`, compiled to
 * dist/index.js and dist/index.d.ts). It is components/index.ts: MailCluster
 * and its roles, the spec schema and parser, MailClusterFromSpec (the façade
 * other Pulumi languages use), credentialsFromStackConfig for stack programs.
 *
 * Pulumi's component analyzer also starts here: it reads package.json
 * `exports`/`main`, finds no TypeScript file behind dist/, and falls back to
 * this index.ts, following its imports to the classes plugin.ts names.
 */
export * from './components';
