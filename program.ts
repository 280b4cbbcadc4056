// The Pulumi program (Pulumi.yaml `main: program.ts`): `pulumi preview`,
// `pulumi up`. It lives at the project root so the engine runs it with the
// root as working directory: the language host finds tsconfig.json (and
// through Pulumi.yaml's `tsconfig` option, tsconfig.pulumi.json) and the
// provider plugins in node_modules from here.
//
// The stack's outputs are the cluster's endpoints, admin URL, admin token
// (secret), members and storage. The program itself is stacks/ (config →
// validated spec → MailCluster); this file only runs it. The package's
// library entry is a different file on purpose.
import { stackProgram } from './stacks';

export = stackProgram();
