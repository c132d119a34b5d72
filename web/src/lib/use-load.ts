// Loading data for a page: the result, the error, a reload, and optional polling that pauses
// while the tab is hidden. A failed background refresh keeps the last data and reports the error.
import { useCallback, useEffect, useRef, useState } from 'react';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): Promise<void>;
  /** Replace the data locally (after an action answered with the new state). */
  setData(update: T | ((old: T | undefined) => T)): void;
}

export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[], opts: { pollMs?: number } = {}): Loaded<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const loader = useRef(load);
  loader.current = load;

  const reload = useCallback(async () => {
    const mine = ++generation.current;
    try {
      const result = await loader.current();
      if (mine !== generation.current) return;
      setDataState(result);
      setError(undefined);
    } catch (e) {
      if (mine === generation.current) setError(e);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    setLoading(true);
    setDataState(undefined);
    setError(undefined);
    void reload();
  }, deps);

  useEffect(() => {
    if (!opts.pollMs) return;
    const timer = setInterval(() => {
      if (!document.hidden) void reload();
    }, opts.pollMs);
    const onVisible = () => {
      if (!document.hidden) void reload();
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [opts.pollMs, reload]);

  const setData = useCallback((update: T | ((old: T | undefined) => T)) => {
    generation.current++;
    setLoading(false);
    setDataState((old) => (typeof update === 'function' ? (update as (o: T | undefined) => T)(old) : update));
  }, []);

  return { data, error, loading, reload, setData };
}

/** The wall clock, re-read every `everyMs` (countdowns). */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
