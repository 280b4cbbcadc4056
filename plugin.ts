/**
 * The Pulumi plugin entry: what `pulumi package add <this repository>` runs
 * for Python, Go, C#, Java and YAML programs. Pulumi's plugin runner
 * (`@pulumi/pulumi/cmd/run-plugin`) requires this package by its folder,
 * which Node resolves through package.json `main` (dist/plugin.js), and
 * serves every ComponentResource class the module exports; the schema comes
 * from the component analyzer, which rejects union-typed args. So this entry
 * exports the analyzer-friendly façade only: MailCluster and the role
 * components stay TypeScript-only (index.ts, package.json `exports`).
 */
export { MailClusterFromSpec } from './components';
