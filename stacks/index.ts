// stacks/: the stack program as a library (Pulumi config → validated spec →
// component). The Pulumi entry point that runs it is program.ts at the
// project root; the offline preview (cli/preview) runs it under mocks.
export { stackProgram } from './program';
