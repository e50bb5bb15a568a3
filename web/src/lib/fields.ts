// Field display: reducers (last, mean, max …), thresholds, value mappings, the color palette
// and the override resolution of Grafana's field config. Pure.

import type { FieldDefaults, Override, Threshold } from "./dashboard";

/** Grafana's classic palette, in order. */
export const PALETTE = [
  "#73BF69", "#F2CC0C", "#8AB8FF", "#FF780A", "#F2495C", "#5794F2", "#B877D9", "#705DA0", "#37872D", "#FADE2A",
  "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477", "#B7DBAB", "#F4D598", "#70DBED", "#F9BA8F",
];

const NAMED: Record<string, string> = {
  green: "#73BF69", "semi-dark-green": "#56A64B", "dark-green": "#37872D", "light-green": "#96D98D",
  red: "#F2495C", "semi-dark-red": "#E02F44", "dark-red": "#C4162A", "light-red": "#FF7383",
  yellow: "#FADE2A", "semi-dark-yellow": "#F2CC0C", "dark-yellow": "#E0B400", "light-yellow": "#FFEE52",
  orange: "#FF9830", "semi-dark-orange": "#FF780A", "dark-orange": "#FA6400", "light-orange": "#FFB357",
  blue: "#5794F2", "semi-dark-blue": "#3274D9", "dark-blue": "#1F60C4", "light-blue": "#8AB8FF",
  purple: "#B877D9", "semi-dark-purple": "#A352CC", "dark-purple": "#8F3BB8", "light-purple": "#CA95E5",
  text: "#ccccdc", transparent: "transparent",
};

/** Resolves a Grafana color name ("green", "dark-red") or passes a CSS color through. */
export function resolveColor(color: string | undefined, fallback = PALETTE[0]): string {
  if (!color) return fallback;
  return NAMED[color] ?? color;
}

/** The reducers Grafana offers; unknown ones fall back to lastNotNull. */
export function reduce(values: (number | null)[], calc: string): number | null {
  const nums = values.filter((v): v is number => v !== null && !Number.isNaN(v));
  if (calc === "count") return nums.length;
  if (nums.length === 0) return null;
  switch (calc) {
    case "last":
      return values[values.length - 1] ?? null;
    case "lastNotNull":
    case "current":
      return nums[nums.length - 1];
    case "first":
      return values[0] ?? null;
    case "firstNotNull":
      return nums[0];
    case "min":
      return Math.min(...nums);
    case "max":
      return Math.max(...nums);
    case "mean":
    case "avg":
      return nums.reduce((a, b) => a + b, 0) / nums.length;
    case "sum":
    case "total":
      return nums.reduce((a, b) => a + b, 0);
    case "range":
      return Math.max(...nums) - Math.min(...nums);
    case "delta": {
      let d = 0;
      for (let i = 1; i < nums.length; i++) d += nums[i] >= nums[i - 1] ? nums[i] - nums[i - 1] : nums[i];
      return d;
    }
    case "diff":
      return nums[nums.length - 1] - nums[0];
    case "median": {
      const s = [...nums].sort((a, b) => a - b);
      const m = Math.floor(s.length / 2);
      return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
    }
    default:
      return nums[nums.length - 1];
  }
}

/** The legend/column title of a reducer. */
export const CALC_NAMES: Record<string, string> = {
  min: "Min", max: "Max", mean: "Mean", avg: "Mean", last: "Last", lastNotNull: "Last *", first: "First",
  firstNotNull: "First *", sum: "Total", count: "Count", range: "Range", delta: "Delta", diff: "Difference", median: "Median",
};

/** Returns the color of the threshold step `value` falls in (percentage mode uses min/max). */
export function thresholdColor(value: number | null, thresholds: FieldDefaults["thresholds"], min = 0, max = 100): string | undefined {
  const steps: Threshold[] = thresholds?.steps ?? [];
  if (steps.length === 0 || value === null) return undefined;
  const v = thresholds?.mode === "percentage" ? ((value - min) / (max - min || 1)) * 100 : value;
  let color = steps[0].color;
  for (const s of steps) {
    if (s.value === null || s.value === undefined || v >= s.value) color = s.color;
  }
  return resolveColor(color);
}

/** The result of a value mapping: replacement text and/or color. */
export interface MappedValue {
  text?: string;
  color?: string;
}

/** Applies Grafana value mappings (value, range, regex, special) to a value. */
export function applyMappings(value: number | null, mappings: any[] | undefined, text?: string): MappedValue | undefined {
  for (const m of mappings ?? []) {
    const o = m.options ?? {};
    if (m.type === "value") {
      const key = value === null ? "null" : String(value);
      const hit = o[key] ?? (text !== undefined ? o[text] : undefined);
      if (hit) return { text: hit.text, color: hit.color ? resolveColor(hit.color) : undefined };
    } else if (m.type === "range" && value !== null) {
      const from = o.from ?? -Infinity;
      const to = o.to ?? Infinity;
      if (value >= from && value <= to) return { text: o.result?.text, color: o.result?.color ? resolveColor(o.result.color) : undefined };
    } else if (m.type === "regex" && text !== undefined) {
      try {
        if (new RegExp(o.pattern).test(text)) return { text: o.result?.text, color: o.result?.color ? resolveColor(o.result.color) : undefined };
      } catch {
        // An invalid pattern matches nothing, as in Grafana.
      }
    } else if (m.type === "special") {
      const match = o.match;
      const hit = (match === "null" && value === null) || (match === "nan" && value !== null && Number.isNaN(value)) || (match === "null+nan" && (value === null || Number.isNaN(value))) || (match === "true" && value === 1) || (match === "false" && value === 0);
      if (hit) return { text: o.result?.text, color: o.result?.color ? resolveColor(o.result.color) : undefined };
    }
  }
  return undefined;
}

function setPath(target: Record<string, any>, path: string, value: any): void {
  const parts = path.split(".");
  let t = target;
  for (const p of parts.slice(0, -1)) {
    t[p] = { ...(t[p] ?? {}) };
    t = t[p];
  }
  t[parts[parts.length - 1]] = value;
}

function compare(left: number, op: string, right: number): boolean {
  switch (op) {
    case "gt":
      return left > right;
    case "gte":
      return left >= right;
    case "lt":
      return left < right;
    case "lte":
      return left <= right;
    case "eq":
      return left === right;
    case "ne":
      return left !== right;
    default:
      return false;
  }
}

function matches(matcher: Override["matcher"], name: string, refId: string | undefined, values?: (number | null)[]): boolean {
  const opt = matcher.options;
  switch (matcher.id) {
    case "byValue": {
      if (!values) return false;
      const reducer = opt?.reducer ?? "lastNotNull";
      // The boolean reducers say what they test; their op and value are not meaningful.
      if (reducer === "allIsNull") return values.every((v) => v === null || Number.isNaN(v));
      if (reducer === "allIsZero") return values.every((v) => v === 0);
      const r = reduce(values, reducer);
      return r !== null && compare(r, opt?.op ?? "gte", Number(opt?.value ?? 0));
    }
    case "byName":
      return opt === name;
    case "byRegexp": {
      const s = String(opt ?? "");
      const m = /^\/(.*)\/([gimsuy]*)$/s.exec(s);
      try {
        return (m ? new RegExp(m[1], m[2].replace("g", "")) : new RegExp(`^(?:${s})$`)).test(name);
      } catch {
        return false;
      }
    }
    case "byFrameRefID":
      return opt === refId;
    case "byType":
      return opt === "number";
    default:
      return false;
  }
}

/** Returns the field config of one series: the defaults with every matching override applied. */
export function fieldConfigFor(defaults: FieldDefaults | undefined, overrides: Override[] | undefined, name: string, refId?: string, values?: (number | null)[]): FieldDefaults {
  const out: Record<string, any> = { ...(defaults ?? {}), custom: { ...(defaults?.custom ?? {}) } };
  for (const o of overrides ?? []) {
    if (!matches(o.matcher ?? { id: "" }, name, refId, values)) continue;
    for (const p of o.properties ?? []) setPath(out, p.id, p.value);
  }
  return out as FieldDefaults;
}

/** The color of a series: a fixed color from its config, else the palette by index. */
export function seriesColor(config: FieldDefaults, index: number): string {
  if (config.color?.mode === "fixed" && config.color.fixedColor) return resolveColor(config.color.fixedColor);
  if (config.color?.mode === "thresholds") return resolveColor(config.thresholds?.steps?.[0]?.color, PALETTE[index % PALETTE.length]);
  return PALETTE[index % PALETTE.length];
}
