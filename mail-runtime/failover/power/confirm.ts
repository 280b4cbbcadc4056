import { PowerError, pause } from './http';
import { CONFIRM_POLL_MS, type PowerState } from './types';

/**
 * Polls `state` until it reports `want` or `timeoutMs` passes; then
 * UNCONFIRMED. Errors of the platform API (auth, not found) end the wait at
 * once: they will not fix themselves.
 */
export async function confirmState(target: string, want: PowerState, state: () => Promise<PowerState>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: PowerState | undefined;
  for (;;) {
    last = await state();
    if (last === want) return;
    if (Date.now() >= deadline) break;
    await pause(Math.min(CONFIRM_POLL_MS, Math.max(1, deadline - Date.now())));
  }
  throw new PowerError('UNCONFIRMED', `${target}: still ${last} ${timeoutMs} ms after asking for ${want}`);
}
