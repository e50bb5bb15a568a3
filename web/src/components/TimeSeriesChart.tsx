// A uPlot time-series chart with Grafana's behaviour: unit-formatted axes, a shared tooltip,
// drag to zoom (reported to the caller, which moves the time range), a legend as a list or a
// table with reducers (min/max/mean/last), click to hide a series, ctrl-click to isolate one.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { CALC_NAMES, reduce } from "../lib/fields";
import { formatText } from "../lib/units";
import { formatDateTime } from "../lib/time";

export interface ChartSeries {
  name: string;
  values: (number | null)[];
  color: string;
  unit?: string;
  decimals?: number;
  fillOpacity?: number;
  lineWidth?: number;
  drawStyle?: "line" | "bars" | "points";
  /** Hidden from the legend/tooltip/plot by the panel's config (hideFrom). */
  hideFrom?: { legend?: boolean; tooltip?: boolean; viz?: boolean };
  axis?: "left" | "right";
  dashed?: boolean;
}

export interface ChartProps {
  /** Timestamps in seconds, ascending, shared by every series. */
  timestamps: number[];
  series: ChartSeries[];
  unit?: string;
  decimals?: number;
  min?: number;
  max?: number;
  stacking?: "none" | "normal" | "percent";
  legend?: { show?: boolean; mode?: "list" | "table"; placement?: "bottom" | "right"; calcs?: string[] };
  tooltip?: "multi" | "single" | "none";
  onZoom?: (fromMs: number, toMs: number) => void;
  /** The x range in milliseconds, so that the axis spans the whole selected range. */
  xRange?: { from: number; to: number };
  height?: number;
  /** Threshold steps drawn as Grafana's thresholdsStyle: lines at each step, areas between. */
  thresholds?: ChartThresholds;
}

export interface ChartThresholds {
  /** line, dashed, area, line+area or dashed+area. */
  mode: string;
  /** Ascending; the first is the base (value null); colours already resolved. */
  steps: { value: number | null; color: string }[];
}

/** Draws threshold areas (under the series) or lines (over them) in the plot area. */
function drawThresholds(u: uPlot, t: ChartThresholds, layer: "area" | "line") {
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  const y = (v: number) => Math.min(top + height, Math.max(top, u.valToPos(v, "y", true)));
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  t.steps.forEach((step, i) => {
    if (step.color === "transparent") return;
    if (layer === "area") {
      const bottom = step.value === null ? top + height : y(step.value);
      const next = t.steps[i + 1];
      const upper = next === undefined || next.value === null ? top : y(next.value);
      ctx.fillStyle = withAlpha(step.color, 0.15);
      ctx.fillRect(left, upper, width, bottom - upper);
    } else if (step.value !== null) {
      const at = Math.round(y(step.value)) + 0.5;
      ctx.strokeStyle = step.color;
      ctx.lineWidth = Math.max(1, devicePixelRatio);
      ctx.setLineDash(t.mode.startsWith("dashed") ? [10 * devicePixelRatio, 10 * devicePixelRatio] : []);
      ctx.beginPath();
      ctx.moveTo(left, at);
      ctx.lineTo(left + width, at);
      ctx.stroke();
    }
  });
  ctx.restore();
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/** 24-hour time labels as Grafana shows them; the date only where the day changes or ticks span days. */
function timeAxisLabels(_u: uPlot, splits: number[], _axis: number, _space: number, incr: number): string[] {
  const pad = (n: number) => String(n).padStart(2, "0");
  let lastDay = "";
  return splits.map((t) => {
    const d = new Date(t * 1000);
    const day = `${pad(d.getMonth() + 1)}/${pad(d.getDate())}`;
    const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    const label = incr >= 86400 ? day : incr < 60 ? `${hm}:${pad(d.getSeconds())}` : lastDay && day !== lastDay ? `${day} ${hm}` : hm;
    lastDay = day;
    return label;
  });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

function withAlpha(color: string, opacity: number): string {
  const a = Math.max(0, Math.min(1, opacity));
  if (/^#[0-9a-f]{6}$/i.test(color)) return color + Math.round(a * 255).toString(16).padStart(2, "0");
  return `color-mix(in srgb, ${color} ${Math.round(a * 100)}%, transparent)`;
}

/** Stacks series values (cumulative sums per point); percent mode divides by the total. */
function stack(series: ChartSeries[], mode: "normal" | "percent"): (number | null)[][] {
  const n = series[0]?.values.length ?? 0;
  const totals = new Array(n).fill(0);
  if (mode === "percent") series.forEach((s) => s.values.forEach((v, i) => (totals[i] += v ?? 0)));
  const acc = new Array(n).fill(0);
  return series.map((s) =>
    s.values.map((v, i) => {
      if (v === null) return null;
      acc[i] += mode === "percent" ? (totals[i] ? v / totals[i] : 0) : v;
      return acc[i];
    }),
  );
}

export function TimeSeriesChart(props: ChartProps) {
  const wrapRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<HTMLDivElement>(null);
  const tipRef = useRef<HTMLDivElement>(null);
  const uRef = useRef<uPlot | null>(null);
  const [hidden, setHidden] = useState<Set<number>>(new Set());
  const [size, setSize] = useState<{ w: number; h: number }>({ w: 0, h: 0 });
  const legend = { show: true, mode: "list" as const, placement: "bottom" as const, calcs: [] as string[], ...(props.legend ?? {}) };
  const visibleLegend = props.series.map((s, i) => ({ s, i })).filter(({ s }) => !s.hideFrom?.legend);

  useLayoutEffect(() => {
    const el = plotRef.current;
    if (!el) return;
    const ro = new ResizeObserver(() => {
      const r = el.getBoundingClientRect();
      setSize((old) => (Math.abs(old.w - r.width) < 1 && Math.abs(old.h - r.height) < 1 ? old : { w: Math.floor(r.width), h: Math.floor(r.height) }));
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    const el = plotRef.current;
    if (!el || size.w < 20 || size.h < 20) return;
    const axisColor = cssVar("--axis");
    const gridColor = cssVar("--grid");
    const unitLeft = props.unit;
    const rightSeries = props.series.find((s) => s.axis === "right");
    const stacked = props.stacking && props.stacking !== "none" ? stack(props.series, props.stacking) : null;
    const data: uPlot.AlignedData = [props.timestamps, ...props.series.map((s, i) => (stacked ? stacked[i] : s.values))] as uPlot.AlignedData;
    const fmtAxis = (unit: string | undefined) => (_u: uPlot, splits: number[]) => splits.map((v) => (v === null ? "" : formatText(v, props.stacking === "percent" ? "percentunit" : unit, props.decimals)));
    const yRange = (_u: uPlot, dmin: number, dmax: number): uPlot.Range.MinMax => {
      if (dmin === null || dmax === null) return [props.min ?? 0, props.max ?? 1];
      const [a, b] = uPlot.rangeNum(dmin, dmax, 0.1, true) as [number, number];
      return [props.min ?? (dmin >= 0 && a < 0 ? 0 : a), props.max ?? b];
    };
    const bars = uPlot.paths.bars!({ size: [0.8, 64] });
    const opts: uPlot.Options = {
      width: size.w,
      height: size.h,
      padding: [8, 16, 0, 0],
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { size: 6 }, focus: { prox: 24 } },
      focus: { alpha: 0.35 },
      select: { show: true, left: 0, top: 0, width: 0, height: 0 },
      scales: {
        x: { time: true, range: props.xRange ? () => [props.xRange!.from / 1000, props.xRange!.to / 1000] : undefined },
        y: { range: yRange },
        ...(rightSeries ? { y2: { range: yRange } } : {}),
      },
      axes: [
        { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor, width: 1 }, font: "11px Inter, sans-serif", values: timeAxisLabels },
        { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { show: false }, values: fmtAxis(unitLeft), size: 64, font: "11px Inter, sans-serif" },
        ...(rightSeries ? [{ scale: "y2", side: 1, stroke: axisColor, grid: { show: false }, ticks: { show: false }, values: fmtAxis(rightSeries.unit ?? unitLeft), size: 64, font: "11px Inter, sans-serif" } as uPlot.Axis] : []),
      ],
      series: [
        {},
        ...props.series.map((s, i) => ({
          label: s.name,
          scale: s.axis === "right" ? "y2" : "y",
          stroke: s.color,
          width: s.lineWidth ?? 1,
          fill: (s.fillOpacity ?? 0) > 0 ? withAlpha(s.color, (s.fillOpacity ?? 0) / 100) : undefined,
          show: !hidden.has(i) && !s.hideFrom?.viz,
          spanGaps: false,
          dash: s.dashed ? [6, 4] : undefined,
          points: { show: s.drawStyle === "points" || s.values.filter((v) => v !== null).length === 1, size: 4 },
          paths: s.drawStyle === "bars" ? bars : undefined,
        })),
      ],
      hooks: {
        drawClear: [(u) => props.thresholds && props.thresholds.mode.endsWith("area") && drawThresholds(u, props.thresholds, "area")],
        draw: [(u) => props.thresholds && /^(line|dashed)/.test(props.thresholds.mode) && drawThresholds(u, props.thresholds, "line")],
        setSelect: [
          (u) => {
            if (u.select.width > 4 && props.onZoom) {
              const from = u.posToVal(u.select.left, "x");
              const to = u.posToVal(u.select.left + u.select.width, "x");
              props.onZoom(Math.round(from * 1000), Math.round(to * 1000));
            }
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          },
        ],
        setCursor: [
          (u) => {
            const tip = tipRef.current;
            if (!tip) return;
            const idx = u.cursor.idx;
            if (props.tooltip === "none" || idx === null || idx === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
              tip.style.display = "none";
              return;
            }
            const rows: string[] = [];
            const focused = props.tooltip === "single" ? (u.series.findIndex((s, i) => i > 0 && (s as any)._focus) ?? -1) : -1;
            const entries = props.series
              .map((s, i) => ({ s, i, v: s.values[idx] }))
              .filter(({ s, i }) => !s.hideFrom?.tooltip && !hidden.has(i) && (focused < 1 || focused === i + 1));
            entries.sort((a, b) => (b.v ?? -Infinity) - (a.v ?? -Infinity));
            for (const { s, v } of entries.slice(0, 30)) {
              rows.push(`<div class="t-row"><span class="swatch" style="background:${s.color}"></span><span class="t-name">${escapeHtml(s.name)}</span><span class="t-val">${escapeHtml(formatText(v, s.unit ?? props.unit, s.decimals ?? props.decimals))}</span></div>`);
            }
            if (entries.length > 30) rows.push(`<div class="muted">… ${entries.length - 30} more</div>`);
            tip.innerHTML = `<div class="t-time">${formatDateTime(props.timestamps[idx] * 1000)}</div>${rows.join("")}`;
            tip.style.display = "block";
            const left = u.cursor.left + u.over.offsetLeft;
            const top = (u.cursor.top ?? 0) + u.over.offsetTop;
            const w = tip.offsetWidth;
            const wrapW = wrapRef.current?.clientWidth ?? 0;
            tip.style.left = `${left + 16 + w > wrapW ? Math.max(0, left - w - 16) : left + 16}px`;
            tip.style.top = `${Math.max(0, top - 10)}px`;
          },
        ],
      },
    };
    uRef.current?.destroy();
    const u = new uPlot(opts, data, el);
    uRef.current = u;
    const hide = () => tipRef.current && (tipRef.current.style.display = "none");
    u.over.addEventListener("mouseleave", hide);
    return () => {
      u.over.removeEventListener("mouseleave", hide);
    };
  }, [props.timestamps, props.series, size.w, size.h, hidden, props.unit, props.stacking, props.thresholds]);

  useEffect(() => () => uRef.current?.destroy(), []);

  const toggle = (i: number, e: MouseEvent) => {
    if (e.ctrlKey || e.metaKey) {
      const next = new Set(hidden);
      if (next.has(i)) next.delete(i);
      else next.add(i);
      setHidden(next);
      return;
    }
    // A plain click isolates the series; clicking the isolated one shows all again, as Grafana.
    const others = props.series.map((_, j) => j).filter((j) => j !== i);
    const isolated = !hidden.has(i) && others.every((j) => hidden.has(j));
    setHidden(isolated ? new Set() : new Set(others));
  };

  const calcs = legend.calcs ?? [];
  const right = legend.placement === "right";
  const legendEl =
    legend.show !== false && visibleLegend.length > 0 ? (
      legend.mode === "table" || calcs.length > 0 && right ? (
        <div class="legend table" style={right ? { width: "40%", maxWidth: "420px" } : { maxHeight: "40%" }}>
          <table>
            <thead>
              <tr>
                <th>Name</th>
                {calcs.map((c) => (
                  <th key={c}>{CALC_NAMES[c] ?? c}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {visibleLegend.map(({ s, i }) => (
                <tr key={i} class={`legend-item ${hidden.has(i) ? "hidden" : ""}`} onClick={(e) => toggle(i, e as unknown as MouseEvent)} style={{ display: "table-row" }}>
                  <td>
                    <span class="swatch" style={{ background: s.color, marginRight: "6px" }} />
                    {s.name}
                  </td>
                  {calcs.map((c) => (
                    <td key={c}>{formatText(reduce(s.values, c), s.unit ?? props.unit, s.decimals ?? props.decimals)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <div class="legend list" style={right ? { flexDirection: "column", flexWrap: "nowrap", flex: "none", maxWidth: "40%", paddingLeft: "8px" } : { maxHeight: "35%" }}>
          {visibleLegend.map(({ s, i }) => (
            <span key={i} class={`legend-item ${hidden.has(i) ? "hidden" : ""}`} onClick={(e) => toggle(i, e as unknown as MouseEvent)} title={s.name}>
              <span class="swatch" style={{ background: s.color }} />
              {s.name}
              {calcs.map((c) => (
                <span key={c} class="muted">
                  {" "}
                  {CALC_NAMES[c] ?? c}: {formatText(reduce(s.values, c), s.unit ?? props.unit, s.decimals ?? props.decimals)}
                </span>
              ))}
            </span>
          ))}
        </div>
      )
    ) : null;

  return (
    <div ref={wrapRef} class="chart" style={{ display: "flex", flexDirection: right ? "row" : "column", height: props.height ? `${props.height}px` : "100%", minHeight: 0, flex: 1 }}>
      <div ref={plotRef} style={{ flex: 1, minHeight: 0, minWidth: 0, position: "relative", overflow: "hidden" }} data-testid="uplot-container" data-thresholds={props.thresholds ? `${props.thresholds.mode}:${props.thresholds.steps.length}` : undefined} />
      {legendEl}
      <div ref={tipRef} class="tooltip" style={{ display: "none" }} />
    </div>
  );
}
