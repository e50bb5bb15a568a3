// Time ranges as Grafana writes them: relative ("now-6h", "now/d") or absolute (epoch
// milliseconds or ISO dates), plus the interval arithmetic panels need. Pure: no DOM, no fetch.

/** A time range as the user typed it; resolved against a clock with `resolveRange`. */
export interface RawRange {
  from: string;
  to: string;
}

/** A resolved time range in epoch milliseconds. */
export interface TimeRange {
  from: number;
  to: number;
}

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  M: 30 * 86_400_000,
  y: 365 * 86_400_000,
};

/** Parses a Prometheus or Grafana duration ("5m", "1h30m", "250ms") into milliseconds, or null. */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|y)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(trimmed)) !== null) {
    total += parseFloat(m[1]) * UNIT_MS[m[2]];
    matched = re.lastIndex;
  }
  if (matched !== trimmed.length) return null;
  return total;
}

/** Formats milliseconds as the shortest Prometheus duration ("1h30m", "15s", "250ms"). */
export function formatDuration(ms: number): string {
  if (ms <= 0) return "0s";
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join("");
}

function roundDown(date: Date, unit: string): void {
  switch (unit) {
    case "y":
      date.setMonth(0, 1);
      date.setHours(0, 0, 0, 0);
      break;
    case "M":
      date.setDate(1);
      date.setHours(0, 0, 0, 0);
      break;
    case "w":
      date.setDate(date.getDate() - date.getDay());
      date.setHours(0, 0, 0, 0);
      break;
    case "d":
      date.setHours(0, 0, 0, 0);
      break;
    case "h":
      date.setMinutes(0, 0, 0);
      break;
    case "m":
      date.setSeconds(0, 0);
      break;
    case "s":
      date.setMilliseconds(0);
      break;
  }
}

/**
 * Resolves one end of a range: "now", "now-6h", "now-1d/d", an epoch in milliseconds, or an
 * ISO date. Returns null when the text is none of these.
 */
export function parseTime(text: string, now: number): number | null {
  const t = text.trim();
  if (t === "") return null;
  if (/^\d{10,}$/.test(t)) return parseInt(t, 10);
  if (t.startsWith("now")) {
    const date = new Date(now);
    let rest = t.slice(3);
    const re = /^([+-])(\d+)(ms|s|m|h|d|w|M|y)|^\/(s|m|h|d|w|M|y)/;
    while (rest.length > 0) {
      const m = re.exec(rest);
      if (!m) return null;
      if (m[4]) {
        roundDown(date, m[4]);
      } else {
        const n = parseInt(m[2], 10) * (m[1] === "-" ? -1 : 1);
        if (m[3] === "M") date.setMonth(date.getMonth() + n);
        else if (m[3] === "y") date.setFullYear(date.getFullYear() + n);
        else date.setTime(date.getTime() + n * UNIT_MS[m[3]]);
      }
      rest = rest.slice(m[0].length);
    }
    return date.getTime();
  }
  const parsed = Date.parse(t.includes("T") || t.includes("Z") ? t : t.replace(" ", "T"));
  return Number.isNaN(parsed) ? null : parsed;
}

/** Resolves a raw range; throws with a readable message when an end does not parse. */
export function resolveRange(raw: RawRange, now: number): TimeRange {
  const from = parseTime(raw.from, now);
  const to = parseTime(raw.to, now);
  if (from === null) throw new Error(`invalid time "${raw.from}"`);
  if (to === null) throw new Error(`invalid time "${raw.to}"`);
  if (from >= to) throw new Error("the start of the range must be before its end");
  return { from, to };
}

/** True when the range moves with the clock (its end is relative to now). */
export function isRelative(raw: RawRange): boolean {
  return raw.to.trim().startsWith("now");
}

/** Returns the human label of a range: "Last 6 hours" for the common presets. */
export function describeRange(raw: RawRange): string {
  const preset = RANGE_PRESETS.find((p) => p.from === raw.from && p.to === raw.to);
  if (preset) return preset.label;
  const fmt = (s: string) => (/^\d{10,}$/.test(s) ? formatDateTime(parseInt(s, 10)) : s);
  return `${fmt(raw.from)} to ${fmt(raw.to)}`;
}

/** Formats epoch milliseconds as local "YYYY-MM-DD HH:mm:ss". */
export function formatDateTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The relative ranges offered by the time picker. */
export const RANGE_PRESETS: { from: string; to: string; label: string }[] = [
  { from: "now-5m", to: "now", label: "Last 5 minutes" },
  { from: "now-15m", to: "now", label: "Last 15 minutes" },
  { from: "now-30m", to: "now", label: "Last 30 minutes" },
  { from: "now-1h", to: "now", label: "Last 1 hour" },
  { from: "now-3h", to: "now", label: "Last 3 hours" },
  { from: "now-6h", to: "now", label: "Last 6 hours" },
  { from: "now-12h", to: "now", label: "Last 12 hours" },
  { from: "now-24h", to: "now", label: "Last 24 hours" },
  { from: "now-2d", to: "now", label: "Last 2 days" },
  { from: "now-7d", to: "now", label: "Last 7 days" },
  { from: "now/d", to: "now", label: "Today so far" },
  { from: "now-1d/d", to: "now-1d/d", label: "Yesterday" },
];

// Grafana's interval rounding: each raw interval up to the bound maps to the nice interval
// beside it (the nearest nice step, not the next one up), in milliseconds.
const ROUNDING: [number, number][] = [
  [10, 1], [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500], [1500, 1000], [3500, 2000],
  [7500, 5000], [12_500, 10_000], [17_500, 15_000], [25_000, 20_000], [45_000, 30_000], [90_000, 60_000],
  [150_000, 120_000], [450_000, 300_000], [750_000, 600_000], [1_050_000, 900_000], [1_500_000, 1_200_000],
  [2_700_000, 1_800_000], [5_400_000, 3_600_000], [9_000_000, 7_200_000], [16_200_000, 10_800_000],
  [32_400_000, 21_600_000], [86_400_000, 43_200_000], [604_800_000, 86_400_000], [1_814_400_000, 604_800_000],
  [3_628_800_000, 2_592_000_000],
];

/** Rounds an interval to a nice one as Grafana does (13 s → 15 s, 61 s → 1 m, 100 s → 2 m). */
export function roundInterval(ms: number): number {
  for (const [bound, nice] of ROUNDING) if (ms <= bound) return nice;
  return 31_536_000_000;
}

/** The inputs of a panel's interval calculation. */
export interface IntervalOptions {
  range: TimeRange;
  /** The number of points the panel can show, usually its width in pixels. */
  maxDataPoints: number;
  /** The lower bound: the panel's or target's `interval` ("15s", ">=30s"), else the scrape interval. */
  minInterval?: string;
  /** The data source's scrape interval, 15 s when unknown. */
  scrapeIntervalMs?: number;
}

/** The variables a query's interval produces. */
export interface Intervals {
  intervalMs: number;
  rateIntervalMs: number;
  rangeMs: number;
}

/**
 * Computes $__interval, $__rate_interval and $__range as Grafana does for Prometheus: the range
 * divided by the points the panel can draw, snapped to a nice interval, at least the minimum
 * interval; the rate interval is max(interval + scrape interval, 4 × scrape interval).
 */
export function computeIntervals(opts: IntervalOptions): Intervals {
  const scrape = opts.scrapeIntervalMs ?? 15_000;
  const rangeMs = opts.range.to - opts.range.from;
  const raw = rangeMs / Math.max(1, opts.maxDataPoints);
  let min = scrape;
  if (opts.minInterval) {
    const parsed = parseDuration(opts.minInterval.replace(/^>=?/, ""));
    if (parsed !== null && parsed > 0) min = parsed;
  }
  const intervalMs = Math.max(roundInterval(raw), min);
  const rateIntervalMs = Math.max(intervalMs + scrape, 4 * scrape);
  return { intervalMs, rateIntervalMs, rangeMs };
}

/** Chooses a query_range step for Explore: about `points` points, at least one second. */
export function stepFor(range: TimeRange, points = 250): number {
  const raw = (range.to - range.from) / points;
  return Math.max(1000, roundInterval(raw));
}
