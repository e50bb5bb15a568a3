// Visualizations of Grafana panel types over query frames: timeseries, stat, gauge, bargauge,
// table, heatmap, text and piechart. Each reads the panel's fieldConfig (defaults + overrides)
// and options as Grafana defines them.

import { useEffect, useRef } from "preact/hooks";
import type { FieldDefaults, Panel } from "../lib/dashboard";
import { alignFrames, type Frame } from "../lib/frames";
import { applyMappings, fieldConfigFor, reduce, resolveColor, seriesColor, thresholdColor, PALETTE } from "../lib/fields";
import { formatText, formatValue } from "../lib/units";
import { applyTableTransformations } from "../lib/transform";
import { renderMarkdown, sanitizeHtml } from "../lib/markdown";
import { formatDateTime, type TimeRange } from "../lib/time";
import { TimeSeriesChart, type ChartThresholds } from "../components/TimeSeriesChart";

export interface VizProps {
  panel: Panel;
  frames: Frame[];
  range: TimeRange;
  onZoom: (from: number, to: number) => void;
  interpolate: (s: string) => string;
}

function configOf(panel: Panel, f: Frame): FieldDefaults {
  const d = panel.fieldConfig?.defaults;
  const c = fieldConfigFor(d, panel.fieldConfig?.overrides, f.name, f.refId, f.values);
  // Grafana also matches overrides on the display name a previous override gave.
  return c.displayName && c.displayName !== f.name ? fieldConfigFor(c, panel.fieldConfig?.overrides, c.displayName, f.refId, f.values) : c;
}

function displayName(c: FieldDefaults, f: Frame, interpolate: (s: string) => string): string {
  if (c.displayName) return interpolate(c.displayName.replace(/\$\{__field\.labels\.([\w]+)\}/g, (_, l) => f.labels[l] ?? "").replace(/\$\{__series\.name\}/g, f.name));
  return f.name;
}

export function TimeseriesViz(p: VizProps) {
  const frames = p.frames.filter((f) => f.timestamps.length > 0);
  if (frames.length === 0) return <div class="nodata">No data</div>;
  const aligned = alignFrames(frames);
  const opts = p.panel.options ?? {};
  const defaults = p.panel.fieldConfig?.defaults ?? {};
  const series = frames.map((f, i) => {
    const c = configOf(p.panel, f);
    const custom = c.custom ?? {};
    return {
      name: displayName(c, f, p.interpolate),
      values: custom.transform === "negative-Y" ? aligned.values[i].map((v) => (v === null ? null : -v)) : aligned.values[i],
      color: seriesColor(c, i),
      unit: c.unit,
      decimals: c.decimals,
      fillOpacity: custom.fillOpacity ?? 0,
      lineWidth: custom.lineWidth ?? 1,
      drawStyle: custom.drawStyle,
      hideFrom: custom.hideFrom,
      axis: custom.axisPlacement === "right" ? ("right" as const) : ("left" as const),
      dashed: custom.lineStyle?.fill === "dash",
    };
  });
  const stackMode = defaults.custom?.stacking?.mode;
  return (
    <TimeSeriesChart
      timestamps={aligned.timestamps}
      series={series}
      unit={defaults.unit}
      decimals={defaults.decimals}
      min={defaults.min ?? defaults.custom?.axisSoftMin}
      max={defaults.max}
      stacking={stackMode === "normal" || stackMode === "percent" ? stackMode : "none"}
      legend={{ show: opts.legend?.showLegend !== false && opts.legend?.displayMode !== "hidden", mode: opts.legend?.displayMode === "table" ? "table" : "list", placement: opts.legend?.placement === "right" ? "right" : "bottom", calcs: opts.legend?.calcs ?? [] }}
      tooltip={opts.tooltip?.mode === "single" ? "single" : opts.tooltip?.mode === "none" ? "none" : "multi"}
      xRange={p.range}
      onZoom={p.onZoom}
      thresholds={chartThresholds(defaults, aligned.values)}
    />
  );
}

/** The panel's thresholds as the chart draws them, when its thresholdsStyle asks for it. */
function chartThresholds(defaults: FieldDefaults, values: (number | null)[][]): ChartThresholds | undefined {
  const mode = defaults.custom?.thresholdsStyle?.mode;
  const steps = defaults.thresholds?.steps ?? [];
  if (!mode || mode === "off" || steps.length === 0) return undefined;
  let toValue = (v: number) => v;
  if (defaults.thresholds?.mode === "percentage") {
    // Percentages of the field's min..max (configured, else the data's).
    const all = values.flat().filter((v): v is number => v !== null && Number.isFinite(v));
    const min = defaults.min ?? Math.min(...all);
    const max = defaults.max ?? Math.max(...all);
    toValue = (v) => min + ((max - min) * v) / 100;
  }
  return {
    mode,
    steps: steps.map((s, i) => ({ value: i === 0 || s.value === null || s.value === undefined ? null : toValue(s.value), color: s.color === "transparent" ? "transparent" : resolveColor(s.color) })),
  };
}

interface Reduced {
  name: string;
  value: number | null;
  text: string;
  suffix: string;
  color: string;
  values: (number | null)[];
  config: FieldDefaults;
}

function reduceFrames(p: VizProps): Reduced[] {
  const calc = p.panel.options?.reduceOptions?.calcs?.[0] ?? "lastNotNull";
  return p.frames.map((f, i) => {
    const c = configOf(p.panel, f);
    const value = reduce(f.values, calc);
    const mapped = applyMappings(value, c.mappings);
    const fmt = formatValue(value, c.unit, c.decimals);
    const prefix = c.custom?.prefix ?? "";
    const postfix = c.custom?.postfix ?? "";
    const color = mapped?.color ?? (c.color?.mode === "fixed" ? resolveColor(c.color.fixedColor) : thresholdColor(value, c.thresholds ?? { steps: [{ color: "green", value: null }] }, c.min ?? 0, c.max ?? 100)) ?? PALETTE[i % PALETTE.length];
    const noValue = c.noValue ?? "No data";
    return {
      name: displayName(c, f, p.interpolate),
      value,
      text: mapped?.text ?? (value === null ? noValue : prefix + fmt.text),
      suffix: mapped?.text !== undefined || value === null ? "" : fmt.suffix + postfix,
      color,
      values: f.values,
      config: c,
    };
  });
}

function Sparkline(props: { values: (number | null)[]; color: string; fill: boolean }) {
  const nums = props.values.map((v) => (v === null || !Number.isFinite(v) ? null : v));
  const real = nums.filter((v): v is number => v !== null);
  if (real.length < 2) return null;
  const min = Math.min(...real);
  const max = Math.max(...real);
  const pts = nums.map((v, i) => (v === null ? null : `${(i / (nums.length - 1)) * 100},${40 - ((v - min) / (max - min || 1)) * 36}`)).filter(Boolean);
  return (
    <svg class="spark" viewBox="0 0 100 40" preserveAspectRatio="none" style={{ height: "45%", width: "100%" }}>
      {props.fill && <polygon points={`0,40 ${pts.join(" ")} 100,40`} fill={props.color} opacity="0.2" />}
      <polyline points={pts.join(" ")} fill="none" stroke={props.color} stroke-width="1.5" vector-effect="non-scaling-stroke" />
    </svg>
  );
}

export function StatViz(p: VizProps) {
  const items = reduceFrames(p);
  if (items.length === 0) return <div class="nodata">{p.panel.fieldConfig?.defaults?.noValue ?? "No data"}</div>;
  const o = p.panel.options ?? {};
  const colorMode = o.colorMode ?? "value";
  const showName = o.textMode === "value_and_name" || o.textMode === "name" || (o.textMode !== "value" && items.length > 1);
  const direction = o.orientation === "horizontal" || (o.orientation !== "vertical" && items.length > 3) ? "column" : "row";
  return (
    <div class="stat" style={{ flexDirection: direction }} data-testid="stat">
      {items.map((it, i) => {
        const bg = colorMode === "background" || colorMode === "background_solid";
        const fontPx = Math.max(14, Math.min(56, 120 / Math.sqrt(items.length)));
        return (
          <div key={i} class="stat-item" style={bg ? { background: colorMode === "background_solid" ? it.color : `linear-gradient(120deg, ${it.color}cc, ${it.color})`, color: "#fff" } : undefined}>
            {showName && <div class="stat-name">{it.name}</div>}
            <div class="stat-value" style={{ fontSize: `${fontPx}px`, color: bg ? "#fff" : colorMode === "value" ? it.color : "var(--text-strong)" }}>
              {o.textMode === "name" ? "" : it.text}
              <span style={{ fontSize: "0.6em" }}>{o.textMode === "name" ? "" : it.suffix}</span>
            </div>
            {o.graphMode === "area" && <Sparkline values={it.values} color={bg ? "#ffffff" : it.color} fill />}
          </div>
        );
      })}
    </div>
  );
}

function arc(cx: number, cy: number, r: number, a0: number, a1: number): string {
  const p0 = [cx + r * Math.cos(a0), cy + r * Math.sin(a0)];
  const p1 = [cx + r * Math.cos(a1), cy + r * Math.sin(a1)];
  return `M ${p0[0]} ${p0[1]} A ${r} ${r} 0 ${a1 - a0 > Math.PI ? 1 : 0} 1 ${p1[0]} ${p1[1]}`;
}

export function GaugeViz(p: VizProps) {
  const items = reduceFrames(p);
  if (items.length === 0) return <div class="nodata">No data</div>;
  const showMarkers = p.panel.options?.showThresholdMarkers !== false;
  return (
    <div class="gauges" data-testid="gauge">
      {items.map((it, i) => {
        const min = it.config.min ?? 0;
        const max = it.config.max ?? (it.config.unit === "percentunit" ? 1 : 100);
        const frac = it.value === null ? 0 : Math.max(0, Math.min(1, (it.value - min) / (max - min || 1)));
        const a0 = Math.PI * 0.75;
        const span = Math.PI * 1.5;
        const steps = it.config.thresholds?.steps ?? [];
        const pct = it.config.thresholds?.mode === "percentage";
        return (
          <div key={i}>
            <svg viewBox="0 0 120 100" style={{ width: "100%", height: "100%", maxHeight: "100%" }}>
              <path d={arc(60, 60, 44, a0, a0 + span)} stroke="var(--bg-hover)" stroke-width="12" fill="none" />
              {showMarkers &&
                steps.map((s, j) => {
                  const from = j === 0 ? 0 : Math.max(0, Math.min(1, pct ? (s.value ?? 0) / 100 : ((s.value ?? min) - min) / (max - min || 1)));
                  const nextV = steps[j + 1]?.value;
                  const to = nextV === undefined || nextV === null ? 1 : Math.max(0, Math.min(1, pct ? nextV / 100 : (nextV - min) / (max - min || 1)));
                  return to > from ? <path key={j} d={arc(60, 60, 53, a0 + span * from, a0 + span * to)} stroke={resolveColor(s.color)} stroke-width="3" fill="none" /> : null;
                })}
              {frac > 0 && <path d={arc(60, 60, 44, a0, a0 + span * Math.max(frac, 0.001))} stroke={it.color} stroke-width="12" fill="none" />}
              <text x="60" y="66" text-anchor="middle" fill={it.color} style={{ fontSize: "17px", fontWeight: 500 }}>
                {it.text}
                {it.suffix}
              </text>
              {items.length > 1 && (
                <text x="60" y="96" text-anchor="middle" fill="var(--text-muted)" style={{ fontSize: "8px" }}>
                  {it.name.slice(0, 32)}
                </text>
              )}
            </svg>
          </div>
        );
      })}
    </div>
  );
}

export function BarGaugeViz(p: VizProps) {
  const items = reduceFrames(p);
  if (items.length === 0) return <div class="nodata">No data</div>;
  return (
    <div class="bargauge" data-testid="bargauge">
      {items.map((it, i) => {
        const min = it.config.min ?? 0;
        const max = it.config.max ?? Math.max(...items.map((x) => x.value ?? 0), 1);
        const frac = it.value === null ? 0 : Math.max(0, Math.min(1, (it.value - min) / (max - min || 1)));
        return (
          <div class="bg-row" key={i}>
            <span style={{ overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }} title={it.name}>
              {it.name}
            </span>
            <div class="bg-track">
              <div class="bg-bar" style={{ width: `${frac * 100}%`, background: p.panel.options?.displayMode === "gradient" ? `linear-gradient(90deg, ${it.color}55, ${it.color})` : it.color }} />
            </div>
            <span style={{ color: it.color, fontWeight: 500, minWidth: "64px", textAlign: "right" }}>
              {it.text}
              {it.suffix}
            </span>
          </div>
        );
      })}
    </div>
  );
}

export function TableViz(p: VizProps) {
  const table = applyTableTransformations(p.frames, p.panel.transformations);
  if (table.rows.length === 0) return <div class="nodata">No data</div>;
  const overrides = p.panel.fieldConfig?.overrides;
  const cols = table.columns.map((name) => {
    const c = fieldConfigFor(p.panel.fieldConfig?.defaults, overrides, name);
    return { name, c, title: c.displayName ?? (name === "Value" ? "Value" : name), hidden: c.custom?.hidden === true || (name === "Time" && !p.panel.fieldConfig?.overrides?.some((o) => o.matcher.options === "Time")) };
  });
  const visible = cols.map((c, i) => ({ ...c, i })).filter((c) => !c.hidden);
  const sortBy = p.panel.options?.sortBy?.[0];
  let rows = table.rows;
  if (sortBy) {
    const idx = cols.findIndex((c) => c.title === sortBy.displayName || c.name === sortBy.displayName);
    if (idx >= 0) rows = [...rows].sort((a, b) => ((a[idx] as number) > (b[idx] as number) ? 1 : -1) * (sortBy.desc ? -1 : 1));
  }
  return (
    <div class="table-wrap" style={{ flex: 1 }} data-testid="table">
      <table class="table">
        <thead>
          <tr>
            {visible.map((c) => (
              <th key={c.name} class={typeof rows[0][c.i] === "number" ? "num" : ""} style={c.c.custom?.minWidth ? { minWidth: `${c.c.custom.minWidth}px` } : undefined}>
                {c.title}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, ri) => (
            <tr key={ri}>
              {visible.map((c) => {
                const v = r[c.i];
                if (typeof v !== "number") return <td key={c.name}>{v ?? ""}</td>;
                if (c.name === "Time") return <td key={c.name}>{formatDateTime(v)}</td>;
                const mapped = applyMappings(v, c.c.mappings);
                const color = mapped?.color ?? thresholdColor(v, c.c.thresholds, c.c.min, c.c.max);
                const cell = c.c.custom?.cellOptions?.type ?? c.c.custom?.displayMode;
                const bg = cell === "color-background" || cell === "color-background-solid";
                const fg = cell === "color-text";
                return (
                  <td key={c.name} class="num" style={bg && color ? { background: color, color: "#fff" } : fg && color ? { color } : undefined}>
                    {mapped?.text ?? formatText(v, c.c.unit, c.c.decimals)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Turns cumulative Prometheus buckets (le) into per-bucket counts, sorted by bound. */
function heatmapBuckets(frames: Frame[]): { bounds: string[]; timestamps: number[]; counts: (number | null)[][] } {
  const withLe = frames.filter((f) => f.labels.le !== undefined || f.name !== "");
  const sorted = [...withLe].sort((a, b) => parseFloat(a.labels.le ?? a.name) - parseFloat(b.labels.le ?? b.name));
  const aligned = alignFrames(sorted);
  const cumulative = sorted.every((f) => f.labels.le !== undefined);
  const counts = aligned.values.map((vals, i) => vals.map((v, t) => (v === null ? null : cumulative && i > 0 ? Math.max(0, v - (aligned.values[i - 1][t] ?? 0)) : v)));
  return { bounds: sorted.map((f) => f.labels.le ?? f.name), timestamps: aligned.timestamps, counts };
}

export function HeatmapViz(p: VizProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const { bounds, timestamps, counts } = heatmapBuckets(p.frames);
  useEffect(() => {
    const c = canvas.current;
    if (!c || bounds.length === 0) return;
    const rect = c.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.max(1, rect.width * dpr);
    c.height = Math.max(1, rect.height * dpr);
    const ctx = c.getContext("2d")!;
    ctx.scale(dpr, dpr);
    const left = 64;
    const bottom = 18;
    const w = rect.width - left;
    const h = rect.height - bottom;
    const max = Math.max(1, ...counts.flat().map((v) => v ?? 0));
    const cw = w / Math.max(1, timestamps.length);
    const ch = h / bounds.length;
    const scheme = p.panel.options?.color?.scheme ?? "Oranges";
    const hue = /blue/i.test(scheme) ? 210 : /green/i.test(scheme) ? 120 : /red/i.test(scheme) ? 0 : /purple/i.test(scheme) ? 280 : 30;
    counts.forEach((row, bi) =>
      row.forEach((v, ti) => {
        if (!v) return;
        const k = Math.sqrt(v / max);
        ctx.fillStyle = `hsla(${hue}, 90%, ${70 - k * 40}%, ${0.25 + 0.75 * k})`;
        ctx.fillRect(left + ti * cw, h - (bi + 1) * ch, Math.ceil(cw), Math.ceil(ch) - 1);
      }),
    );
    const axis = getComputedStyle(document.documentElement).getPropertyValue("--axis");
    ctx.fillStyle = axis;
    ctx.font = "10px Inter, sans-serif";
    ctx.textAlign = "right";
    const every = Math.ceil(bounds.length / Math.max(1, Math.floor(h / 14)));
    bounds.forEach((b, i) => i % every === 0 && ctx.fillText(b === "+Inf" ? "+Inf" : formatText(parseFloat(b), p.panel.fieldConfig?.defaults?.unit ?? p.panel.options?.yAxis?.unit), left - 4, h - i * ch - ch / 2 + 3));
    ctx.textAlign = "center";
    const ticks = Math.max(2, Math.floor(w / 120));
    for (let i = 0; i < ticks; i++) {
      const ti = Math.floor((i / (ticks - 1)) * (timestamps.length - 1));
      const d = new Date(timestamps[ti] * 1000);
      ctx.fillText(`${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`, Math.min(rect.width - 20, Math.max(left + 16, left + ti * cw)), rect.height - 4);
    }
  });
  if (bounds.length === 0) return <div class="nodata">No data</div>;
  return <canvas ref={canvas} class="heatmap-canvas" data-testid="heatmap" />;
}

export function TextViz(p: VizProps) {
  const o = p.panel.options ?? {};
  const content = p.interpolate(String(o.content ?? ""));
  const html = o.mode === "html" ? sanitizeHtml(content) : o.mode === "code" ? `<pre>${content.replace(/</g, "&lt;")}</pre>` : renderMarkdown(content);
  return <div class="text-panel" dangerouslySetInnerHTML={{ __html: html }} />;
}

export function PieViz(p: VizProps) {
  const items = reduceFrames(p).filter((i) => (i.value ?? 0) > 0);
  if (items.length === 0) return <div class="nodata">No data</div>;
  const total = items.reduce((a, b) => a + (b.value ?? 0), 0);
  const donut = p.panel.options?.pieType === "donut";
  let angle = -Math.PI / 2;
  return (
    <div class="pie" data-testid="piechart">
      <svg viewBox="0 0 100 100" style={{ height: "100%", maxWidth: "60%" }}>
        {items.map((it, i) => {
          const a = ((it.value ?? 0) / total) * Math.PI * 2;
          const a0 = angle;
          angle += a;
          const color = it.config.color?.mode === "fixed" ? it.color : PALETTE[i % PALETTE.length];
          if (a >= Math.PI * 2 - 1e-6) return <circle key={i} cx="50" cy="50" r="45" fill={color} />;
          const x0 = 50 + 45 * Math.cos(a0);
          const y0 = 50 + 45 * Math.sin(a0);
          const x1 = 50 + 45 * Math.cos(angle);
          const y1 = 50 + 45 * Math.sin(angle);
          return <path key={i} d={`M 50 50 L ${x0} ${y0} A 45 45 0 ${a > Math.PI ? 1 : 0} 1 ${x1} ${y1} Z`} fill={color} stroke="var(--bg-panel)" stroke-width="0.8" />;
        })}
        {donut && <circle cx="50" cy="50" r="26" fill="var(--bg-panel)" />}
      </svg>
      <div class="legend" style={{ display: "flex", flexDirection: "column", gap: "2px" }}>
        {items.map((it, i) => (
          <span key={i} class="legend-item">
            <span class="swatch" style={{ background: it.config.color?.mode === "fixed" ? it.color : PALETTE[i % PALETTE.length] }} />
            {it.name} <span class="muted">{((100 * (it.value ?? 0)) / total).toFixed(1)}%</span>
          </span>
        ))}
      </div>
    </div>
  );
}
