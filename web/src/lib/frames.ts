// Query results as the panels use them: one frame per series with its legend name, and the
// alignment of several series onto one shared time axis for the chart. Pure.

import type { QueryData } from "./api";
import { renderLegend, seriesName } from "./interpolate";

export interface Frame {
  refId: string;
  labels: Record<string, string>;
  name: string;
  /** Milliseconds. */
  timestamps: number[];
  values: (number | null)[];
}

function num(s: string): number | null {
  const v = parseFloat(s);
  if (s === "NaN") return Number.NaN;
  if (s === "+Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  return Number.isNaN(v) ? null : v;
}

/** Converts a Prometheus result into frames, naming each with the legend format. */
export function toFrames(data: QueryData, refId: string, legendFormat?: string): Frame[] {
  switch (data.resultType) {
    case "matrix":
      return data.result.map((s) => ({
        refId,
        labels: s.metric,
        name: renderLegend(legendFormat, s.metric),
        timestamps: s.values.map(([t]) => Math.round(t * 1000)),
        values: s.values.map(([, v]) => num(v)),
      }));
    case "vector":
      return data.result.map((s) => ({
        refId,
        labels: s.metric,
        name: renderLegend(legendFormat, s.metric),
        timestamps: [Math.round(s.value[0] * 1000)],
        values: [num(s.value[1])],
      }));
    case "scalar":
    case "string":
      return [{ refId, labels: {}, name: legendFormat || (data.resultType === "scalar" ? "scalar" : "string"), timestamps: [Math.round(data.result[0] * 1000)], values: [num(data.result[1])] }];
  }
}

/**
 * Aligns frames on the union of their timestamps (seconds, as uPlot wants), with null where a
 * series has no sample. When `stepMs` is given, missing steps inside a series become gaps.
 */
export function alignFrames(frames: Frame[]): { timestamps: number[]; values: (number | null)[][] } {
  const all = new Set<number>();
  for (const f of frames) for (const t of f.timestamps) all.add(t);
  const ts = [...all].sort((a, b) => a - b);
  const index = new Map(ts.map((t, i) => [t, i]));
  const values = frames.map((f) => {
    const out: (number | null)[] = new Array(ts.length).fill(null);
    f.timestamps.forEach((t, i) => {
      const v = f.values[i];
      out[index.get(t)!] = v !== null && Number.isFinite(v) ? v : null;
    });
    return out;
  });
  return { timestamps: ts.map((t) => t / 1000), values };
}

/** Rows of a table panel or Explore's table: one per series, with its labels and last value. */
export function tableRows(frames: Frame[]): { labels: Record<string, string>; value: number | null; time: number; refId: string; name: string }[] {
  return frames.map((f) => ({
    labels: f.labels,
    value: f.values[f.values.length - 1] ?? null,
    time: f.timestamps[f.timestamps.length - 1] ?? 0,
    refId: f.refId,
    name: f.name || seriesName(f.labels),
  }));
}
