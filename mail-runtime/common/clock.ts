/**
 * The clock leases are measured on: monotonic (libuv's uv_hrtime, i.e.
 * CLOCK_MONOTONIC on Linux), in milliseconds. It keeps running while the
 * process is stopped (SIGSTOP), so a member or hub that wakes up after a
 * pause sees at once that its lease has lapsed; wall-clock steps (NTP, an
 * operator) never extend or shorten a lease.
 */
export function monotonicMs(): number {
  return performance.now();
}
