/** Where a command reads and writes; tests pass their own, the binary passes the process's streams. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /**
   * Reads a secret (a password): from a terminal, a hidden prompt asked twice
   * so a typo is caught; from a pipe, the first line of standard input.
   * Resolves `undefined` when nothing was given.
   */
  readSecret(prompt: string): Promise<string | undefined>;
}
