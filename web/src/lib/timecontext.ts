// The time range, auto refresh and theme shared by every page, read from and written to the URL
// (`from`, `to`, `refresh`), as Grafana does.

import { useEffect, useMemo, useState } from "preact/hooks";
import { parseDuration, resolveRange, type RawRange, type TimeRange } from "./time";
import { setQuery, useLocation } from "./router";

export interface TimeState {
  raw: RawRange;
  range: TimeRange;
  refresh: string;
  /** Increments on every refresh tick or explicit refresh, so that panels re-query. */
  tick: number;
  error?: string;
}

let manualTick = 0;
const tickListeners = new Set<() => void>();

/** Asks every panel to query again now. */
export function refreshNow(): void {
  manualTick++;
  tickListeners.forEach((l) => l());
}

/** Sets the shared time range in the URL. */
export function setTimeRange(raw: RawRange): void {
  setQuery({ from: raw.from, to: raw.to }, false);
}

export function setRefresh(refresh: string): void {
  setQuery({ refresh: refresh || undefined });
}

/** Reads the shared time state, re-resolving relative ranges on every refresh tick. */
export function useTime(defaults: RawRange = { from: "now-1h", to: "now" }): TimeState {
  const { query } = useLocation();
  const raw = { from: query.get("from") ?? defaults.from, to: query.get("to") ?? defaults.to };
  const refresh = query.get("refresh") ?? "";
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const l = () => setTick((t) => t + 1);
    tickListeners.add(l);
    return () => {
      tickListeners.delete(l);
    };
  }, []);
  useEffect(() => {
    const ms = parseDuration(refresh);
    if (!ms || ms < 1000) return;
    const id = setInterval(() => setTick((t) => t + 1), ms);
    return () => clearInterval(id);
  }, [refresh]);
  const key = `${raw.from}|${raw.to}|${tick}|${manualTick}`;
  const current = useMemo((): { range: TimeRange; error?: string } => {
    try {
      return { range: resolveRange(raw, Date.now()) };
    } catch (e) {
      return { error: (e as Error).message, range: resolveRange({ from: "now-1h", to: "now" }, Date.now()) };
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return { raw, range: current.range, refresh, tick: tick + manualTick, error: current.error };
}

export type Theme = "dark" | "light";

export function currentTheme(): Theme {
  return (localStorage.getItem("panoptes.theme") as Theme) || "dark";
}

export function applyTheme(theme: Theme): void {
  localStorage.setItem("panoptes.theme", theme);
  document.documentElement.dataset.theme = theme;
}
