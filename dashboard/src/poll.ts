import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

/** How often a page asks the hub again: "live" without a push channel, cheap for the hub. */
export const POLL_MS = 1_000;

/**
 * Fetches now and every `ms` while the page is shown; `reload()` fetches at
 * once (after an action), and so does a change of `key` (a new search). The
 * latest `load` is always the one called (it closes over the page's state).
 */
export function usePoll<T>(load: () => Promise<T>, ms = POLL_MS, key = ''): { data: T | undefined; error: string | null; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const d = await latest.current();
        if (!live) return;
        setData(d);
        setError(null);
      } catch (err) {
        if (!live) return;
        setError(err instanceof ApiError ? `${err.message} (${err.status})` : String(err));
      }
      if (live) timer = setTimeout(() => void run(), ms);
    };
    void run();
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [tick, ms, key]);
  return { data, error, reload: () => setTick((t) => t + 1) };
}

/**
 * Push where the hub offers it: an EventSource on `path` (same origin, the
 * session cookie goes along) calls `onEvent` for each of `events`. Answers
 * whether the stream is open, so a page polls slowly while pushed to and at
 * POLL_MS when the stream is down (the browser reconnects on its own).
 */
export function usePush(path: string, events: readonly string[], onEvent: () => void): boolean {
  const [open, setOpen] = useState(false);
  const latest = useRef(onEvent);
  latest.current = onEvent;
  const names = events.join(',');
  useEffect(() => {
    if (typeof EventSource === 'undefined') return;
    const source = new EventSource(path);
    const fire = () => latest.current();
    source.onopen = () => setOpen(true);
    source.onerror = () => setOpen(false);
    for (const e of names.split(',')) source.addEventListener(e, fire);
    return () => {
      source.close();
      setOpen(false);
    };
  }, [path, names]);
  return open;
}

export function ago(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m} min`;
  return `${Math.round(m / 60)} h`;
}

export function messageOf(err: unknown): string {
  return err instanceof ApiError ? err.message : String(err);
}
