// Pulumi entry point (Pulumi.yaml `main`). The stack's outputs are the
// cluster's endpoints, admin URL, admin token (secret), members and storage.
import { stackProgram } from './program';

export = stackProgram();
