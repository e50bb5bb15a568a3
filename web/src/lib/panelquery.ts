// Runs the queries of one dashboard panel: interpolates variables and the built-in intervals,
// picks instant or range evaluation per target, and returns frames plus per-query errors. Every
// run is recorded in a per-page registry that the dashboard's report (and the browser tests)
// read: panels, queries, failures.

import { instantQuery, rangeQuery } from "./api";
import type { Panel } from "./dashboard";
import { toFrames, type Frame } from "./frames";
import { builtinScope, interpolate, type Scope } from "./interpolate";
import { computeIntervals, type TimeRange } from "./time";

export interface QueryOutcome {
  refId: string;
  expr: string;
  error?: string;
  series: number;
  /** Samples returned, over all series. */
  points: number;
  ms: number;
}

export interface PanelResult {
  frames: Frame[];
  queries: QueryOutcome[];
  warnings: string[];
  intervalMs: number;
}

/** The record of every panel's last run on the current page, keyed by panel key. */
export const runRegistry = new Map<string, { title: string; type: string; queries: QueryOutcome[]; done: boolean; doneAt?: number }>();
(window as any).__panoptesRuns = runRegistry;

export async function runPanelQueries(panel: Panel, scope: Scope, range: TimeRange, widthPx: number, signal: AbortSignal): Promise<PanelResult> {
  const maxDataPoints = panel.maxDataPoints ?? Math.max(100, Math.round(widthPx));
  const targets = (panel.targets ?? []).filter((t) => !t.hide && t.expr !== undefined && String(t.expr).trim() !== "");
  let intervalMs = 0;
  const outcomes = await Promise.all(
    targets.map(async (t, i) => {
      const refId = t.refId ?? String.fromCharCode(65 + i);
      const minInterval = interpolate(t.interval || panel.interval || "", scope);
      const iv = computeIntervals({ range, maxDataPoints, minInterval: minInterval || undefined });
      intervalMs = Math.max(intervalMs, iv.intervalMs);
      const builtins = builtinScope({ ...iv, from: range.from, to: range.to });
      const expr = interpolate(String(t.expr), scope, builtins);
      const instant = t.instant === true && t.range !== true;
      const started = performance.now();
      try {
        const stepMs = iv.intervalMs * Math.max(1, t.intervalFactor ?? 1);
        const r = instant ? await instantQuery(expr, range.to, signal) : await rangeQuery(expr, range.from, range.to, stepMs, signal);
        const legend = t.legendFormat ? interpolate(t.legendFormat, scope, builtins) : undefined;
        const frames = toFrames(r.data, refId, legend);
        return { frames, warnings: r.warnings, outcome: { refId, expr, series: frames.length, points: frames.reduce((a, f) => a + f.timestamps.length, 0), ms: performance.now() - started } as QueryOutcome };
      } catch (e) {
        if ((e as Error).name === "AbortError") throw e;
        return { frames: [] as Frame[], warnings: [] as string[], outcome: { refId, expr, error: (e as Error).message, series: 0, points: 0, ms: performance.now() - started } };
      }
    }),
  );
  return {
    frames: outcomes.flatMap((o) => o.frames),
    queries: outcomes.map((o) => o.outcome),
    warnings: [...new Set(outcomes.flatMap((o) => o.warnings))],
    intervalMs,
  };
}
