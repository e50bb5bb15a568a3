// Grafana's dashboard JSON model: the types the UI reads, the migration of legacy panels
// (graph → timeseries, singlestat → stat), the list of what a dashboard uses that Panoptes does
// not render (reported panel by panel, never dropped silently), variable query parsing and the
// 24-column grid layout with collapsible and repeated rows and repeated panels. Pure.

/* eslint-disable @typescript-eslint/no-explicit-any */

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Threshold {
  color: string;
  value: number | null;
}

export interface Target {
  refId?: string;
  expr?: string;
  legendFormat?: string;
  interval?: string;
  instant?: boolean;
  range?: boolean;
  format?: "time_series" | "table" | "heatmap" | string;
  hide?: boolean;
  intervalFactor?: number;
  datasource?: any;
  [k: string]: any;
}

export interface FieldDefaults {
  unit?: string;
  decimals?: number;
  min?: number;
  max?: number;
  displayName?: string;
  thresholds?: { mode?: "absolute" | "percentage"; steps: Threshold[] };
  mappings?: any[];
  color?: { mode?: string; fixedColor?: string };
  custom?: Record<string, any>;
  noValue?: string;
  links?: any[];
}

export interface Override {
  matcher: { id: string; options?: any };
  properties: { id: string; value?: any }[];
}

export interface Panel {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  gridPos: GridPos;
  targets?: Target[];
  datasource?: any;
  interval?: string;
  maxDataPoints?: number;
  fieldConfig?: { defaults?: FieldDefaults; overrides?: Override[] };
  options?: Record<string, any>;
  repeat?: string;
  repeatDirection?: "h" | "v";
  maxPerRow?: number;
  collapsed?: boolean;
  panels?: Panel[];
  transformations?: any[];
  transparent?: boolean;
  [k: string]: any;
}

export interface VariableOption {
  text: string | string[];
  value: string | string[];
  selected?: boolean;
}

export interface Variable {
  type: string;
  name: string;
  label?: string;
  hide?: number;
  query?: any;
  regex?: string;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string | null;
  current?: { text?: string | string[]; value?: string | string[] };
  options?: VariableOption[];
  refresh?: number;
  sort?: number;
  auto?: boolean;
  auto_count?: number;
  auto_min?: string;
  [k: string]: any;
}

export interface Dashboard {
  uid?: string;
  id?: number | null;
  title: string;
  tags?: string[];
  panels: Panel[];
  templating?: { list: Variable[] };
  time?: { from: string; to: string };
  refresh?: string | false;
  schemaVersion?: number;
  version?: number;
  description?: string;
  [k: string]: any;
}

/** What a dashboard uses that is not rendered: per panel (by title), and for the whole dashboard. */
export interface Report {
  dashboard: string[];
  panels: { title: string; issues: string[] }[];
}

export const SUPPORTED_PANELS = new Set([
  "timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "text", "piechart", "row",
]);

const LEGACY: Record<string, string> = { graph: "timeseries", singlestat: "stat", "grafana-singlestat-panel": "stat", "grafana-piechart-panel": "piechart", "table-old": "table" };

const SUPPORTED_VARIABLES = new Set(["query", "custom", "interval", "constant", "textbox", "datasource", "adhoc"]);

const SUPPORTED_OVERRIDE_MATCHERS = new Set(["byName", "byRegexp", "byFrameRefID", "byType", "byValue"]);
export const SUPPORTED_OVERRIDE_PROPERTIES = new Set([
  "unit", "decimals", "min", "max", "displayName", "color", "thresholds", "mappings", "noValue",
  "custom.fillOpacity", "custom.lineWidth", "custom.drawStyle", "custom.hideFrom", "custom.axisPlacement",
  "custom.stacking", "custom.transform", "custom.width", "custom.align", "custom.displayMode", "custom.cellOptions",
  "custom.lineStyle", "custom.showPoints", "custom.pointSize", "custom.axisLabel", "links", "custom.axisSoftMin", "custom.axisSoftMax", "custom.hidden", "custom.minWidth",
]);

/** Transformations applied by lib/transform.ts. */
export const SUPPORTED_TRANSFORMATIONS = new Set(["merge", "organize", "seriesToRows"]);

const GRID_COLUMNS = 24;

function legacyGraphToTimeseries(p: any, issues: string[]): Panel {
  const yaxis = Array.isArray(p.yaxes) ? p.yaxes[0] ?? {} : {};
  const defaults: FieldDefaults = { ...(p.fieldConfig?.defaults ?? {}) };
  if (yaxis.format && !defaults.unit) defaults.unit = yaxis.format;
  if (yaxis.decimals !== undefined && yaxis.decimals !== null) defaults.decimals = yaxis.decimals;
  if (yaxis.min !== undefined && yaxis.min !== null && yaxis.min !== "") defaults.min = Number(yaxis.min);
  if (yaxis.max !== undefined && yaxis.max !== null && yaxis.max !== "") defaults.max = Number(yaxis.max);
  defaults.custom = {
    ...(defaults.custom ?? {}),
    drawStyle: p.bars ? "bars" : p.lines === false && p.points ? "points" : "line",
    fillOpacity: p.fill !== undefined ? p.fill * 10 : 10,
    lineWidth: p.linewidth ?? 1,
    stacking: p.stack ? { mode: p.percentage ? "percent" : "normal" } : { mode: "none" },
  };
  const legend = p.legend ?? {};
  const calcs: string[] = [];
  if (legend.min) calcs.push("min");
  if (legend.max) calcs.push("max");
  if (legend.avg) calcs.push("mean");
  if (legend.current) calcs.push("lastNotNull");
  if (legend.total) calcs.push("sum");
  const overrides: Override[] = [...(p.fieldConfig?.overrides ?? [])];
  for (const [name, color] of Object.entries(p.aliasColors ?? {})) {
    overrides.push({ matcher: { id: "byName", options: name }, properties: [{ id: "color", value: { mode: "fixed", fixedColor: color } }] });
  }
  for (const so of p.seriesOverrides ?? []) {
    const props: { id: string; value?: any }[] = [];
    const unknown: string[] = [];
    for (const [k, v] of Object.entries(so)) {
      if (k === "alias") continue;
      if (k === "color") props.push({ id: "color", value: { mode: "fixed", fixedColor: v } });
      else if (k === "fill") props.push({ id: "custom.fillOpacity", value: Number(v) * 10 });
      else if (k === "linewidth") props.push({ id: "custom.lineWidth", value: v });
      else if (k === "yaxis" && v === 2) props.push({ id: "custom.axisPlacement", value: "right" });
      else if (k === "bars") props.push({ id: "custom.drawStyle", value: v ? "bars" : "line" });
      else if (k === "legend" && v === false) props.push({ id: "custom.hideFrom", value: { legend: true, tooltip: false, viz: false } });
      else unknown.push(k);
    }
    if (unknown.length) issues.push(`series override "${so.alias}": ${unknown.join(", ")} not supported`);
    const alias = String(so.alias ?? "");
    const isRegex = alias.startsWith("/") && alias.lastIndexOf("/") > 0;
    overrides.push({
      matcher: isRegex ? { id: "byRegexp", options: alias } : { id: "byName", options: alias },
      properties: props,
    });
  }
  const thresholds = Array.isArray(p.thresholds) ? (p.thresholds as any[]) : [];
  if (thresholds.length) {
    const converted = graphThresholds(thresholds);
    if (typeof converted === "string") issues.push(converted);
    else {
      defaults.thresholds = { mode: "absolute", steps: converted.steps };
      defaults.custom = { ...defaults.custom, thresholdsStyle: { mode: converted.mode } };
    }
  }
  if (p.yaxes?.[1]?.format && p.yaxes[1].show !== false && (p.seriesOverrides ?? []).some((s: any) => s.yaxis === 2)) {
    // The right axis keeps the left unit; say so rather than mislabel it.
    if (p.yaxes[1].format !== p.yaxes[0]?.format) issues.push(`right y axis unit "${p.yaxes[1].format}" shown in the left axis unit`);
  }
  return {
    ...p,
    type: "timeseries",
    fieldConfig: { defaults, overrides },
    options: {
      legend: {
        showLegend: legend.show !== false,
        displayMode: legend.alignAsTable ? "table" : "list",
        placement: legend.rightSide ? "right" : "bottom",
        calcs,
      },
      tooltip: { mode: p.tooltip?.shared === false ? "single" : "multi" },
    },
  };
}

/**
 * A legacy graph's thresholds (value, op gt|lt, colorMode, line, fill) as threshold steps (base
 * step first, value null) and a thresholdsStyle mode, as Grafana's graph migration makes them:
 * `gt` colours from its value up; `lt` colours below its value, up to the next threshold. A
 * string is the reason they cannot be converted.
 */
export function graphThresholds(list: any[]): { steps: Threshold[]; mode: string } | string {
  const parsed: { value: number; below: boolean; color: string; fill: boolean; line: boolean }[] = [];
  for (const [i, t] of list.entries()) {
    const value = typeof t?.value === "number" ? t.value : typeof t?.value === "string" && t.value.trim() !== "" ? Number(t.value) : NaN;
    if (!Number.isFinite(value)) return `graph threshold ${i} has no numeric value; not drawn`;
    const op = t.op ?? "gt";
    if (op !== "gt" && op !== "lt") return `graph threshold ${i} has op "${op}" (gt or lt expected); not drawn`;
    const color = t.colorMode === "warning" ? "orange" : t.colorMode === "ok" ? "green" : t.colorMode === "custom" ? t.fillColor || t.lineColor || "red" : "red";
    parsed.push({ value, below: op === "lt", color, fill: t.fill !== false, line: t.line !== false });
  }
  parsed.sort((a, b) => a.value - b.value);
  const steps: Threshold[] = [];
  parsed.forEach((t, i) => {
    if (!t.below) {
      steps.push({ value: t.value, color: t.color });
      return;
    }
    if (steps.length === 0) steps.push({ value: null, color: t.color });
    const next = parsed[i + 1];
    steps.push({ value: t.value, color: next?.below ? next.color : "transparent" });
  });
  if (steps.length && steps[0].value !== null) steps.unshift({ value: null, color: "transparent" });
  const area = parsed.some((t) => t.fill);
  const line = parsed.some((t) => t.line);
  return { steps, mode: line && area ? "line+area" : area ? "area" : "line" };
}

function legacySinglestatToStat(p: any): Panel {
  const defaults: FieldDefaults = { ...(p.fieldConfig?.defaults ?? {}) };
  if (p.format) defaults.unit = p.format;
  if (p.decimals !== undefined && p.decimals !== null) defaults.decimals = p.decimals;
  if (typeof p.thresholds === "string" && p.thresholds.trim() !== "") {
    const colors: string[] = p.colors ?? ["#299c46", "rgba(237, 129, 40, 0.89)", "#d44a3a"];
    const values = p.thresholds.split(",").map((x: string) => parseFloat(x));
    defaults.thresholds = {
      mode: "absolute",
      steps: [{ color: colors[0], value: null }, ...values.map((v: number, i: number) => ({ color: colors[i + 1] ?? colors[colors.length - 1], value: v }))],
    };
  }
  const mappings: any[] = [];
  for (const m of p.valueMaps ?? []) {
    if (m.op === "=" || m.op === undefined) mappings.push({ type: "value", options: { [m.value]: { text: m.text } } });
  }
  for (const m of p.rangeMaps ?? []) mappings.push({ type: "range", options: { from: parseFloat(m.from), to: parseFloat(m.to), result: { text: m.text } } });
  if (mappings.length) defaults.mappings = mappings;
  const calc: Record<string, string> = { avg: "mean", current: "lastNotNull", max: "max", min: "min", total: "sum", first: "firstNotNull", delta: "delta", diff: "diff", range: "range", name: "lastNotNull" };
  const isGauge = p.gauge?.show === true;
  if (isGauge) {
    defaults.min = p.gauge.minValue ?? 0;
    defaults.max = p.gauge.maxValue ?? 100;
  }
  if (p.prefix) defaults.custom = { ...(defaults.custom ?? {}), prefix: p.prefix };
  if (p.postfix) defaults.custom = { ...(defaults.custom ?? {}), postfix: p.postfix };
  return {
    ...p,
    type: isGauge ? "gauge" : "stat",
    fieldConfig: { defaults, overrides: p.fieldConfig?.overrides ?? [] },
    options: {
      reduceOptions: { calcs: [calc[p.valueName ?? "avg"] ?? "mean"] },
      graphMode: p.sparkline?.show ? "area" : "none",
      colorMode: p.colorBackground ? "background" : p.colorValue ? "value" : "none",
      textMode: "auto",
    },
  };
}

/** Returns the list of unsupported features of one (already migrated) panel. */
export function panelIssues(p: Panel): string[] {
  const issues: string[] = [];
  if (!SUPPORTED_PANELS.has(p.type)) issues.push(`panel type "${p.type}" is not supported`);
  for (const t of p.transformations ?? []) {
    if (t.disabled) continue;
    if (!SUPPORTED_TRANSFORMATIONS.has(t.id)) issues.push(`transformation "${t.id}" is not applied`);
  }
  const ds = p.datasource;
  const dsType = typeof ds === "object" && ds !== null ? ds.type : undefined;
  if (dsType && dsType !== "prometheus" && dsType !== "datasource" && !String(dsType).startsWith("$")) {
    issues.push(`data source type "${dsType}" is not supported (only Prometheus)`);
  }
  for (const t of p.targets ?? []) {
    const tType = typeof t.datasource === "object" && t.datasource !== null ? t.datasource.type : undefined;
    if (tType && tType !== "prometheus" && tType !== "datasource") issues.push(`query ${t.refId ?? ""} uses data source type "${tType}"`);
    if (t.expr === undefined && !t.hide && p.type !== "text" && p.type !== "row") issues.push(`query ${t.refId ?? ""} has no PromQL expression`);
    if (t.format && !["time_series", "table", "heatmap"].includes(t.format)) issues.push(`query format "${t.format}" is not supported`);
    if (t.exemplar) issues.push(`exemplars of query ${t.refId ?? ""} are not shown`);
  }
  for (const o of p.fieldConfig?.overrides ?? []) {
    if (!SUPPORTED_OVERRIDE_MATCHERS.has(o.matcher?.id)) issues.push(`override matcher "${o.matcher?.id}" is not supported`);
    for (const prop of o.properties ?? []) {
      if (!SUPPORTED_OVERRIDE_PROPERTIES.has(prop.id)) issues.push(`override property "${prop.id}" is not supported`);
    }
  }
  if (p.links?.length) issues.push("panel links are not shown");
  if (p.alert) issues.push("legacy panel alert is not evaluated (use alerting rules)");
  return issues;
}

function migratePanel(raw: any, report: Report): Panel {
  const issues: string[] = [];
  let p: Panel;
  const type = raw.type;
  if (type === "graph") p = legacyGraphToTimeseries(raw, issues);
  else if (type === "singlestat" || type === "grafana-singlestat-panel") p = legacySinglestatToStat(raw);
  else if (LEGACY[type]) p = { ...raw, type: LEGACY[type] };
  else p = { ...raw };
  p.gridPos = { x: 0, y: 0, w: 12, h: 8, ...(raw.gridPos ?? {}) };
  if (p.type === "text" && p.options?.content === undefined && raw.content !== undefined) {
    p.options = { ...(p.options ?? {}), content: raw.content, mode: raw.mode ?? "markdown" };
  }
  if (p.panels) p.panels = p.panels.map((c: any) => migratePanel(c, report));
  issues.push(...panelIssues(p));
  if (issues.length) report.panels.push({ title: p.title || `(untitled ${p.type})`, issues });
  return p;
}

/**
 * Reads a dashboard from Grafana JSON (a bare dashboard, or the `{dashboard: …}` envelope of the
 * HTTP API and of grafana.com exports), migrating legacy panels and old-style rows. Returns the
 * dashboard and the report of what will not be rendered.
 *
 * Throws when the input is not a dashboard at all.
 */
export function readDashboard(input: unknown): { dashboard: Dashboard; report: Report } {
  let raw: any = input;
  if (raw && typeof raw === "object" && raw.dashboard && typeof raw.dashboard === "object") raw = raw.dashboard;
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new Error("not a dashboard: expected a JSON object");
  if (!Array.isArray(raw.panels) && !Array.isArray(raw.rows)) throw new Error("not a dashboard: it has neither panels nor rows");
  const report: Report = { dashboard: [], panels: [] };
  let panels: any[] = raw.panels ?? [];
  if (Array.isArray(raw.rows) && panels.length === 0) {
    panels = [];
    let y = 0;
    let id = 1000;
    for (const row of raw.rows) {
      const showRow = row.showTitle !== false || raw.rows.length > 1;
      if (showRow) panels.push({ type: "row", title: row.title ?? "", id: id++, gridPos: { x: 0, y, w: 24, h: 1 }, collapsed: !!row.collapse, panels: [], repeat: row.repeat });
      y += 1;
      const height = Math.max(1, Math.ceil((parseInt(String(row.height ?? "250"), 10) || 250) / 38));
      let x = 0;
      const children: any[] = [];
      for (const p of row.panels ?? []) {
        const w = Math.max(1, Math.round(((p.span ?? 12) / 12) * GRID_COLUMNS));
        if (x + w > GRID_COLUMNS) {
          x = 0;
          y += height;
        }
        children.push({ ...p, gridPos: { x, y, w, h: height } });
        x += w;
      }
      y += height;
      if (showRow && row.collapse) panels[panels.length - 1].panels = children;
      else panels.push(...children);
    }
  }
  const dashboard: Dashboard = {
    ...raw,
    title: typeof raw.title === "string" && raw.title ? raw.title : "Untitled dashboard",
    panels: panels.map((p) => migratePanel(p, report)),
    templating: { list: (raw.templating?.list ?? []).map((v: any) => ({ ...v })) },
    time: raw.time ?? { from: "now-6h", to: "now" },
  };
  delete (dashboard as any).rows;
  for (const v of dashboard.templating!.list) {
    if (!SUPPORTED_VARIABLES.has(v.type)) report.dashboard.push(`variable "${v.name}" of type "${v.type}" is not supported`);
    if (v.type === "adhoc") report.dashboard.push(`ad hoc filters "${v.name}" are not applied to queries`);
  }
  if (raw.annotations?.list?.some((a: any) => a.enable && !a.builtIn)) report.dashboard.push("annotation queries are not shown");
  if (raw.links?.length) report.dashboard.push("dashboard links are not shown");
  return { dashboard, report };
}

/** A parsed query variable definition. */
export type VariableQuery =
  | { kind: "label_values"; label: string; match?: string }
  | { kind: "label_names"; match?: string }
  | { kind: "metrics"; regex: string }
  | { kind: "query_result"; expr: string }
  | { kind: "series"; expr: string };

/** Parses a Prometheus query variable (`label_values(up, job)`, `metrics(…)`, …). */
export function parseVariableQuery(query: unknown): VariableQuery {
  const text = (typeof query === "object" && query !== null ? (query as any).query : query) ?? "";
  const q = String(text).trim();
  let m = /^label_values\(\s*(?:(.*),\s*)?([a-zA-Z_][\w.]*)\s*\)$/s.exec(q);
  if (m) return m[1] !== undefined && m[1].trim() !== "" ? { kind: "label_values", label: m[2], match: m[1].trim() } : { kind: "label_values", label: m[2] };
  m = /^label_names\(\s*(.*)\s*\)$/s.exec(q);
  if (m) return m[1].trim() ? { kind: "label_names", match: m[1].trim() } : { kind: "label_names" };
  m = /^metrics\(\s*(.*)\s*\)$/s.exec(q);
  if (m) return { kind: "metrics", regex: m[1] };
  m = /^query_result\(\s*(.*)\s*\)$/s.exec(q);
  if (m) return { kind: "query_result", expr: m[1] };
  return { kind: "series", expr: q };
}

/**
 * Applies a variable's regex to the texts a query returned, as Grafana does: values that do not
 * match are dropped; a capture group (or the named groups `text` and `value`) picks the value.
 * The result is unique and keeps the first-seen order.
 */
export function applyVariableRegex(texts: string[], regex: string | undefined): { text: string; value: string }[] {
  const out: { text: string; value: string }[] = [];
  const seen = new Set<string>();
  let re: RegExp | null = null;
  if (regex && regex.trim() !== "") {
    const m = /^\/(.*)\/([gimsuy]*)$/s.exec(regex.trim());
    re = m ? new RegExp(m[1], m[2].replace("g", "")) : new RegExp(regex);
  }
  for (const t of texts) {
    let text = t;
    let value = t;
    if (re) {
      const m = re.exec(t);
      if (!m) continue;
      if (m.groups && (m.groups.value !== undefined || m.groups.text !== undefined)) {
        value = m.groups.value ?? m.groups.text;
        text = m.groups.text ?? value;
      } else if (m.length > 1) {
        const g = m.slice(1).find((x) => x !== undefined);
        if (g === undefined) continue;
        text = value = g;
      }
    }
    if (seen.has(value)) continue;
    seen.add(value);
    out.push({ text, value });
  }
  return out;
}

/** Sorts variable options by Grafana's `sort` setting (1/2 alphabetical, 3/4 numerical, 5/6 case-insensitive). */
export function sortOptions<T extends { text: string }>(opts: T[], sort: number | undefined): T[] {
  if (!sort) return opts;
  const copy = [...opts];
  const num = (s: string) => {
    const m = /-?\d+(\.\d+)?/.exec(s);
    return m ? parseFloat(m[0]) : Number.NaN;
  };
  if (sort === 1 || sort === 2) copy.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
  else if (sort === 3 || sort === 4) copy.sort((a, b) => num(a.text) - num(b.text));
  else if (sort === 5 || sort === 6) copy.sort((a, b) => a.text.toLowerCase().localeCompare(b.text.toLowerCase()));
  if (sort % 2 === 0) copy.reverse();
  return copy;
}

/** One laid-out item of the dashboard grid. */
export interface LaidOutPanel {
  key: string;
  panel: Panel;
  pos: GridPos;
  /** The single values of the repeat variables this copy was made for. */
  scoped: Record<string, string>;
  /** For rows: whether it is shown collapsed. */
  collapsed?: boolean;
}

export interface LayoutOptions {
  /** Returns the selected values of a variable (All expanded), for repeats. */
  valuesOf: (variable: string) => string[];
  /** The keys of the rows that the user toggled (collapsed rows open, open rows collapsed). */
  toggled: Set<string>;
}

function collides(a: GridPos, b: GridPos): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** Resolves overlaps (moving items down) and then packs items upward, as Grafana's grid does. */
function compact(items: LaidOutPanel[]): void {
  const sorted = [...items].sort((a, b) => a.pos.y - b.pos.y || a.pos.x - b.pos.x);
  const placed: LaidOutPanel[] = [];
  for (const item of sorted) {
    const pos = item.pos;
    pos.x = Math.max(0, Math.min(pos.x, GRID_COLUMNS - 1));
    pos.w = Math.max(1, Math.min(pos.w, GRID_COLUMNS - pos.x));
    // Float up as far as possible without crossing a placed item.
    while (pos.y > 0 && !placed.some((p) => collides({ ...pos, y: pos.y - 1 }, p.pos))) pos.y--;
    // Then move down until nothing overlaps.
    let hit: LaidOutPanel | undefined;
    while ((hit = placed.find((p) => collides(pos, p.pos)))) pos.y = hit.pos.y + hit.pos.h;
    placed.push(item);
  }
}

function repeatPanel(p: Panel, key: string, base: GridPos, values: string[], scope: Record<string, string>): LaidOutPanel[] {
  if (!p.repeat || values.length === 0) return [{ key, panel: p, pos: { ...base }, scoped: scope }];
  const out: LaidOutPanel[] = [];
  if (p.repeatDirection === "v") {
    values.forEach((v, i) => out.push({ key: `${key}~${v}`, panel: p, pos: { ...base, y: base.y + i * base.h }, scoped: { ...scope, [p.repeat!]: v } }));
    return out;
  }
  const maxPerRow = p.maxPerRow ?? 4;
  const w = Math.max(Math.floor(GRID_COLUMNS / values.length), Math.floor(GRID_COLUMNS / maxPerRow));
  let x = 0;
  let y = base.y;
  for (const v of values) {
    if (x + w > GRID_COLUMNS) {
      x = 0;
      y += base.h;
    }
    out.push({ key: `${key}~${v}`, panel: p, pos: { x, y, w, h: base.h }, scoped: { ...scope, [p.repeat!]: v } });
    x += w;
  }
  return out;
}

/**
 * Lays out a dashboard on the 24-column grid: rows own the panels below them (or, when
 * collapsed, their `panels`), repeated rows and panels are expanded once per selected value,
 * collapsed rows hide their panels, and the result is packed upward with no overlaps.
 */
export function layoutDashboard(panels: Panel[], opts: LayoutOptions): LaidOutPanel[] {
  const sorted = [...panels].sort((a, b) => a.gridPos.y - b.gridPos.y || a.gridPos.x - b.gridPos.x);
  type Section = { row: Panel | null; children: Panel[] };
  const sections: Section[] = [{ row: null, children: [] }];
  for (const p of sorted) {
    if (p.type === "row") sections.push({ row: p, children: [...(p.collapsed ? p.panels ?? [] : [])] });
    else sections[sections.length - 1].children.push(p);
  }
  const out: LaidOutPanel[] = [];
  let cursor = 0;
  const emitChildren = (children: Panel[], originY: number, keyPrefix: string, scope: Record<string, string>) => {
    const items: LaidOutPanel[] = [];
    children.forEach((c, i) => {
      const base = { ...c.gridPos, y: cursor + Math.max(0, c.gridPos.y - originY) };
      const values = c.repeat ? opts.valuesOf(c.repeat) : [];
      items.push(...repeatPanel(c, `${keyPrefix}p${c.id ?? i}`, base, values, scope));
    });
    compactWithin(items, cursor);
    out.push(...items);
    cursor = Math.max(cursor, ...items.map((it) => it.pos.y + it.pos.h));
  };
  sections.forEach((section, si) => {
    if (!section.row) {
      if (section.children.length) emitChildren(section.children, 0, "", {});
      return;
    }
    const row = section.row;
    const rowKey = `r${row.id ?? si}`;
    const isCollapsed = !!row.collapsed !== opts.toggled.has(rowKey);
    const values = row.repeat ? opts.valuesOf(row.repeat) : [];
    const copies: (string | null)[] = row.repeat && values.length ? values : [null];
    for (const v of copies) {
      const key = v === null ? rowKey : `${rowKey}~${v}`;
      const scope = v === null ? {} : { [row.repeat!]: v };
      const collapsed = v === null ? isCollapsed : !!row.collapsed !== opts.toggled.has(key);
      out.push({ key, panel: row, pos: { x: 0, y: cursor, w: GRID_COLUMNS, h: 1 }, scoped: scope, collapsed });
      cursor += 1;
      if (!collapsed) emitChildren(section.children, row.gridPos.y + 1, `${key}/`, scope);
    }
  });
  return out;
}

/** A panel's grid position moved (or resized) by whole cells, kept within the 24 columns. */
export function dragged(from: GridPos, kind: "move" | "resize", dx: number, dy: number): GridPos {
  if (kind === "resize") {
    return { ...from, w: Math.max(1, Math.min(GRID_COLUMNS - from.x, from.w + dx)), h: Math.max(2, from.h + dy) };
  }
  return { ...from, x: Math.max(0, Math.min(GRID_COLUMNS - from.w, from.x + dx)), y: Math.max(0, from.y + dy) };
}

/**
 * The dashboard's panels with panel `index` at `pos`; panels it now overlaps move down below
 * it, as Grafana's grid pushes them (the layout then floats everything up again).
 */
export function placePanel(panels: Panel[], index: number, pos: GridPos): Panel[] {
  const next = panels.map((p, i) => (i === index ? { ...p, gridPos: { ...pos } } : p));
  const placed = [next[index].gridPos];
  const below = next.map((p, i) => ({ p, i })).filter(({ i }) => i !== index).sort((a, b) => a.p.gridPos.y - b.p.gridPos.y || a.p.gridPos.x - b.p.gridPos.x);
  for (const { p, i } of below) {
    let gp = p.gridPos;
    let hit: GridPos | undefined;
    while ((hit = placed.find((q) => collides(gp, q)))) gp = { ...gp, y: hit.y + hit.h };
    if (gp !== p.gridPos) next[i] = { ...p, gridPos: gp };
    placed.push(gp);
  }
  return next;
}

function compactWithin(items: LaidOutPanel[], top: number): void {
  // Compaction works from y = 0; shift the section there and back so it never floats above its row.
  for (const it of items) it.pos.y -= top;
  compact(items);
  for (const it of items) it.pos.y += top;
}
