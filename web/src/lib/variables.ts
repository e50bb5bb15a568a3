// Resolves a dashboard's template variables in order (each may use the ones before it):
// options from Prometheus for query variables, the lists of custom and interval variables,
// constants, text boxes and the single data source; the current values come from the URL
// (var-<name>, repeated for multi-value), else from the saved dashboard.

import { instantQuery, labelNames, labelValues, series } from "./api";
import { applyVariableRegex, parseVariableQuery, sortOptions, type Variable } from "./dashboard";
import { ALL, builtinScope, interpolate, seriesName, type Scope } from "./interpolate";
import { computeIntervals, formatDuration, type TimeRange } from "./time";

export interface ResolvedVariable {
  def: Variable;
  options: { text: string; value: string }[];
  /** The selected values; [ALL] for All. */
  current: string[];
  error?: string;
}

/** Splits a custom variable's query ("a, b, key : value") into options. */
export function customOptions(query: string): { text: string; value: string }[] {
  return query
    .split(/(?<!\\),/)
    .map((s) => s.replace(/\\,/g, ",").trim())
    .filter((s) => s !== "")
    .map((s) => {
      const m = /^(.*?)\s+:\s+(.*)$/.exec(s);
      return m ? { text: m[1], value: m[2] } : { text: s, value: s };
    });
}

function savedCurrent(v: Variable): string[] {
  const c = v.current?.value;
  if (c === undefined || c === null) return [];
  return (Array.isArray(c) ? c : [c]).map(String);
}

async function queryOptions(v: Variable, scope: Scope, range: TimeRange): Promise<{ text: string; value: string }[]> {
  const builtins = builtinScope({ ...computeIntervals({ range, maxDataPoints: 1000 }), from: range.from, to: range.to });
  const q = parseVariableQuery(v.query ?? v.definition ?? "");
  const interp = (s: string) => interpolate(s, scope, builtins);
  let texts: string[];
  switch (q.kind) {
    case "label_values":
      texts = await labelValues(q.label, q.match ? [interp(q.match)] : undefined, range.from, range.to);
      break;
    case "label_names":
      texts = await labelNames(q.match ? [interp(q.match)] : undefined, range.from, range.to);
      break;
    case "metrics": {
      const names = await labelValues("__name__", undefined, range.from, range.to);
      const re = new RegExp(interp(q.regex));
      texts = names.filter((n) => re.test(n));
      break;
    }
    case "query_result": {
      const r = await instantQuery(interp(q.expr), range.to);
      const d = r.data;
      if (d.resultType === "vector") texts = d.result.map((s) => `${seriesName(s.metric)} ${s.value[1]} ${s.value[0] * 1000}`);
      else if (d.resultType === "scalar" || d.resultType === "string") texts = [`${d.resultType} ${d.result[1]} ${d.result[0] * 1000}`];
      else texts = d.result.map((s) => seriesName(s.metric));
      break;
    }
    case "series": {
      if (!q.expr) return [];
      const s = await series([interp(q.expr)], range.from, range.to);
      texts = s.map(seriesName);
      break;
    }
  }
  return sortOptions(applyVariableRegex(texts, v.regex ? interp(v.regex) : undefined), v.sort);
}

/** Picks the current values: the URL's, else the saved ones, else the first option (or All). */
function chooseCurrent(v: Variable, options: { value: string }[], fromUrl: string[]): string[] {
  const wanted = fromUrl.length ? fromUrl : savedCurrent(v);
  const isAll = (x: string) => x === ALL || x === "All" || x === "$__all";
  if (wanted.some(isAll) && v.includeAll) return [ALL];
  const valid = wanted.filter((w) => options.some((o) => o.value === w));
  if (valid.length) return v.multi ? valid : [valid[0]];
  // Keep a value no option offers for text boxes and when the options could not be loaded.
  if (options.length === 0) return wanted.length ? wanted : [];
  if (v.includeAll && !wanted.length) return [ALL];
  return [options[0].value];
}

/**
 * Resolves every variable. `fromUrl` returns the URL's values for a variable name;
 * `previous` keeps options already loaded for variables that refresh only on load.
 */
export async function resolveVariables(defs: Variable[], range: TimeRange, fromUrl: (name: string) => string[], width = 1000): Promise<ResolvedVariable[]> {
  const scope: Scope = {};
  const out: ResolvedVariable[] = [];
  for (const v of defs) {
    let options: { text: string; value: string }[] = [];
    let error: string | undefined;
    try {
      switch (v.type) {
        case "query":
          options = await queryOptions(v, scope, range);
          break;
        case "custom":
          options = customOptions(String(v.query ?? ""));
          break;
        case "interval": {
          options = customOptions(String(v.query ?? "")).map((o) => ({ text: o.text, value: o.value }));
          if (v.auto) {
            const auto = computeIntervals({ range, maxDataPoints: v.auto_count ?? 30, minInterval: v.auto_min ?? "10s", scrapeIntervalMs: 1000 });
            options = [{ text: "auto", value: formatDuration(auto.intervalMs) }, ...options];
          }
          break;
        }
        case "constant":
          options = [{ text: String(v.query ?? ""), value: String(v.query ?? "") }];
          break;
        case "textbox": {
          const val = fromUrl(v.name)[0] ?? savedCurrent(v)[0] ?? String(v.query ?? "");
          options = [{ text: val, value: val }];
          break;
        }
        case "datasource":
          options = [{ text: "Panoptes", value: "panoptes" }];
          break;
        default:
          options = (v.options ?? []).map((o) => ({ text: String(o.text), value: String(o.value) }));
      }
    } catch (e) {
      error = (e as Error).message;
    }
    let current = chooseCurrent(v, options, v.type === "constant" ? [] : fromUrl(v.name));
    if (v.type === "interval" && v.auto && current[0] === "auto") current = [options[0].value];
    const r: ResolvedVariable = { def: v, options, current, error };
    out.push(r);
    scope[v.name] = { values: current, options: options.map((o) => o.value), allValue: v.allValue, multi: v.multi, includeAll: v.includeAll, text: current.map((c) => options.find((o) => o.value === c)?.text ?? c) };
  }
  void width;
  return out;
}

/** The interpolation scope of resolved variables, with repeat values substituted. */
export function scopeOf(vars: ResolvedVariable[], scoped: Record<string, string> = {}): Scope {
  const scope: Scope = {};
  for (const v of vars) {
    const values = scoped[v.def.name] !== undefined ? [scoped[v.def.name]] : v.current;
    scope[v.def.name] = { values, options: v.options.map((o) => o.value), allValue: v.def.allValue, multi: v.def.multi && scoped[v.def.name] === undefined, includeAll: v.def.includeAll && scoped[v.def.name] === undefined, text: values };
  }
  return scope;
}

/** The values a repeat expands to: the selection, with All as every option. */
export function repeatValues(v: ResolvedVariable | undefined): string[] {
  if (!v) return [];
  if (v.current.includes(ALL)) return v.options.map((o) => o.value);
  return v.current;
}
