/** Where a command writes; tests capture it, the binary passes stdout/stderr. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}
