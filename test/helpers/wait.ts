/**
 * Polls `check` every 20 ms until it is true or `timeoutMs` passes (then
 * throws naming `what`): a bound for something that never happens, not a
 * measure of how fast it happens, so keep it generous (a loaded 2-core CI
 * machine stretches "a moment later" to seconds).
 */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
