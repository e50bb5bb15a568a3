// Grafana template-variable interpolation for PromQL: `$var`, `${var}`, `${var:format}`,
// `[[var]]`, the built-ins `$__interval`, `$__rate_interval`, `$__range` …, multi-value and All
// with regex formatting. Pure: no DOM, no fetch.

import { formatDuration } from "./time";

/** The current value of one variable, as the dashboard holds it. */
export interface VariableValue {
  /** The selected values (one for single-value variables). "$__all" means All. */
  values: string[];
  /** Every option the variable offers, used to expand All. */
  options?: string[];
  /** The variable's custom all value (`allValue`), used instead of the options when set. */
  allValue?: string | null;
  /** Multi-value or include-All variables get regex formatting by default in PromQL. */
  multi?: boolean;
  includeAll?: boolean;
  /** The displayed text, for `${var:text}`. */
  text?: string[];
}

/** The values of every variable, by name. */
export type Scope = Record<string, VariableValue>;

/** The special value a variable holds when All is selected. */
export const ALL = "$__all";

const VAR_RE = /\$(\w+)|\$\{(\w+)(?:\.[^:}]*)?(?::([^}]+))?\}|\[\[(\w+)(?::(\w+))?\]\]/g;

/** Escapes a value for a PromQL regex matcher inside a double-quoted string. */
export function regexEscape(value: string): string {
  // Two backslashes per escape: one for the regex, one for the PromQL string around it.
  return value.replace(/\\/g, "\\\\\\\\").replace(/[\^$*+?.()|{}[\]]/g, "\\\\$&");
}

/** Escapes a value for a plain PromQL double-quoted string: backslashes and quotes. */
function stringEscape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
}

function selected(v: VariableValue): string[] {
  if (v.values.includes(ALL)) {
    if (v.allValue !== undefined && v.allValue !== null && v.allValue !== "") return [v.allValue];
    return v.options ?? [];
  }
  return v.values;
}

function isCustomAll(v: VariableValue): boolean {
  return v.values.includes(ALL) && v.allValue !== undefined && v.allValue !== null && v.allValue !== "";
}

/** Formats the values of a variable in one of Grafana's formats ("regex", "pipe", "csv" …). */
export function formatVariable(v: VariableValue, format: string | undefined): string {
  const values = selected(v);
  // A custom all value (".*" usually) is inserted as is, whatever the format.
  if (isCustomAll(v) && (format === undefined || format === "regex")) return values[0];
  switch (format) {
    case undefined: {
      if (!v.multi && !v.includeAll) return values.map(stringEscape).join(",");
      if (values.length === 1) return regexEscape(values[0]);
      return "(" + values.map(regexEscape).join("|") + ")";
    }
    case "regex":
      if (values.length === 1) return regexEscape(values[0]);
      return "(" + values.map(regexEscape).join("|") + ")";
    case "raw":
      return values.join(",");
    case "pipe":
      return values.join("|");
    case "csv":
      return values.join(",");
    case "distributed":
      return values.join(",");
    case "json":
      return JSON.stringify(values);
    case "glob":
      return values.length === 1 ? values[0] : "{" + values.join(",") + "}";
    case "lucene":
      return values.length === 1 ? `"${values[0]}"` : "(" + values.map((x) => `"${x}"`).join(" OR ") + ")";
    case "singlequote":
      return values.map((x) => `'${x.replace(/'/g, "\\'")}'`).join(",");
    case "doublequote":
      return values.map((x) => `"${x.replace(/"/g, '\\"')}"`).join(",");
    case "sqlstring":
      return values.map((x) => `'${x.replace(/'/g, "''")}'`).join(",");
    case "percentencode":
      return encodeURIComponent(values.join(","));
    case "queryparam":
      return values.map((x) => `var-NAME=${encodeURIComponent(x)}`).join("&");
    case "text":
      return (v.text ?? values).join(" + ");
    default:
      return values.join(",");
  }
}

/** The built-in variables a panel query sees. */
export interface Builtins {
  intervalMs: number;
  rateIntervalMs: number;
  rangeMs: number;
  from?: number;
  to?: number;
}

/** Returns the scope entries of the built-in `$__…` variables. */
export function builtinScope(b: Builtins): Record<string, string> {
  const rangeS = Math.round(b.rangeMs / 1000);
  const out: Record<string, string> = {
    __interval: formatDuration(b.intervalMs),
    __interval_ms: String(b.intervalMs),
    __rate_interval: formatDuration(b.rateIntervalMs),
    __rate_interval_ms: String(b.rateIntervalMs),
    __range: formatDuration(rangeS * 1000),
    __range_s: String(rangeS),
    __range_ms: String(b.rangeMs),
  };
  if (b.from !== undefined) out.__from = String(b.from);
  if (b.to !== undefined) out.__to = String(b.to);
  return out;
}

/**
 * Replaces every variable reference in `text`. Unknown variables are left as written, as
 * Grafana does, so that the query error names them. `builtins` holds plain string values.
 */
export function interpolate(text: string, scope: Scope, builtins: Record<string, string> = {}): string {
  return text.replace(VAR_RE, (whole, a, b, fmtB, c, fmtC) => {
    const name: string = a ?? b ?? c;
    const format: string | undefined = fmtB ?? fmtC;
    if (name in builtins) return builtins[name];
    const v = scope[name];
    if (!v) return whole;
    return formatVariable(v, format);
  });
}

/** Returns the names of the variables `text` refers to (built-ins excluded). */
export function referencedVariables(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(VAR_RE)) {
    const name = m[1] ?? m[2] ?? m[4];
    if (!name.startsWith("__")) names.add(name);
  }
  return [...names];
}

/** Renders a Prometheus legend format ("{{pod}} ({{code}})") from a series' labels. */
export function renderLegend(format: string | undefined, labels: Record<string, string>): string {
  if (!format || format === "__auto") return seriesName(labels);
  return format.replace(/\{\{\s*([^}\s]+)\s*\}\}/g, (_, name: string) => labels[name] ?? "");
}

/** The Prometheus way of naming a series: `name{a="b", c="d"}`. */
export function seriesName(labels: Record<string, string>): string {
  const name = labels.__name__ ?? "";
  const rest = Object.keys(labels)
    .filter((k) => k !== "__name__")
    .sort()
    .map((k) => `${k}="${labels[k]}"`)
    .join(", ");
  if (!rest) return name || "{}";
  return `${name}{${rest}}`;
}
