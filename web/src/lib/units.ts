// Value formatting for Grafana unit ids ("bytes", "percent", "s", "reqps" …) with decimals.
// Pure: the panels and the chart axes call `formatValue`.

/** A formatted value split as Grafana shows it: number text and suffix. */
export interface Formatted {
  text: string;
  suffix: string;
}

function fixed(value: number, decimals: number | undefined): string {
  if (decimals !== undefined && decimals !== null && decimals >= 0) return value.toFixed(decimals);
  const abs = Math.abs(value);
  if (abs === 0) return "0";
  // Three significant digits is what a panel has room for; integers stay integers.
  if (Number.isInteger(value) && abs < 1e6) return String(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : Math.min(6, 2 - Math.floor(Math.log10(abs)));
  return String(parseFloat(value.toFixed(digits)));
}

function scaled(value: number, factor: number, suffixes: string[], decimals?: number, sep = " "): Formatted {
  let i = 0;
  let v = value;
  while (Math.abs(v) >= factor && i < suffixes.length - 1) {
    v /= factor;
    i++;
  }
  return { text: fixed(v, decimals), suffix: suffixes[i] ? sep + suffixes[i] : "" };
}

function withSuffix(value: number, suffix: string, decimals?: number): Formatted {
  return { text: fixed(value, decimals), suffix };
}

const SHORT = ["", "K", "Mil", "Bil", "Tri", "Quadr"];
const SI = (base: string) => [base, "k" + base, "M" + base, "G" + base, "T" + base, "P" + base];
const IEC = (base: string) => [base, "Ki" + base, "Mi" + base, "Gi" + base, "Ti" + base, "Pi" + base];

function time(valueIn: number, unitMs: number, decimals?: number): Formatted {
  const ms = valueIn * unitMs;
  const abs = Math.abs(ms);
  const steps: [number, string][] = [
    [31_536_000_000, "year"],
    [604_800_000, "week"],
    [86_400_000, "day"],
    [3_600_000, "hour"],
    [60_000, "min"],
    [1000, "s"],
    [1, "ms"],
    [0.001, "µs"],
    [0.000001, "ns"],
  ];
  if (abs === 0) return withSuffix(0, " " + unitName(unitMs), decimals);
  for (const [size, name] of steps) {
    if (abs >= size) {
      const v = ms / size;
      const plural = (name === "year" || name === "week" || name === "day" || name === "hour") && Math.abs(v) !== 1 ? "s" : "";
      return withSuffix(v, " " + name + plural, decimals);
    }
  }
  return withSuffix(ms / 0.000001, " ns", decimals);
}

function unitName(unitMs: number): string {
  return unitMs === 1000 ? "s" : unitMs === 1 ? "ms" : unitMs === 0.001 ? "µs" : unitMs === 0.000001 ? "ns" : "s";
}

/** The unit ids `formatValue` knows; anything else is shown as a plain number (and reported). */
export const KNOWN_UNITS = new Set([
  "none", "short", "percent", "percentunit", "bytes", "decbytes", "bits", "decbits", "kbytes", "mbytes",
  "gbytes", "bps", "Bps", "binBps", "binbps", "KBs", "MBs", "s", "ms", "µs", "us", "ns", "m", "h", "d",
  "dtdurations", "dtdurationms", "ops", "reqps", "rps", "wps", "rpm", "opm", "iops", "cps", "pps", "hertz",
  "celsius", "fahrenheit", "locale", "sci", "string", "currencyUSD", "currencyEUR", "watt", "volt", "amp",
  "ratio", "bool", "bool_yes_no", "bool_on_off", "dateTimeAsIso", "dateTimeFromNow", "reqpm", "cpm",
]);

/**
 * Formats a value in a Grafana unit. `decimals` forces the number of decimals; unknown units and
 * custom "suffix:x"/"prefix:x" units are honoured as Grafana does.
 */
export function formatValue(value: number | null | undefined, unit?: string, decimals?: number): Formatted {
  if (value === null || value === undefined || Number.isNaN(value)) return { text: "No data", suffix: "" };
  if (!Number.isFinite(value)) return { text: value > 0 ? "+Inf" : "-Inf", suffix: "" };
  const u = unit ?? "";
  if (u.startsWith("suffix:")) return withSuffix(value, u.slice(7), decimals);
  if (u.startsWith("prefix:")) {
    const f = fixed(value, decimals);
    return { text: u.slice(7) + f, suffix: "" };
  }
  switch (u) {
    case "":
    case "none":
      return { text: fixed(value, decimals), suffix: "" };
    case "short":
      return scaled(value, 1000, SHORT, decimals);
    case "percent":
      return withSuffix(value, "%", decimals);
    case "percentunit":
      return withSuffix(value * 100, "%", decimals);
    case "ratio":
      return withSuffix(value, "", decimals);
    case "bytes":
      return scaled(value, 1024, IEC("B"), decimals);
    case "decbytes":
      return scaled(value, 1000, SI("B"), decimals);
    case "kbytes":
      return scaled(value, 1024, IEC("B").slice(1), decimals);
    case "mbytes":
      return scaled(value, 1024, IEC("B").slice(2), decimals);
    case "gbytes":
      return scaled(value, 1024, IEC("B").slice(3), decimals);
    case "bits":
      return scaled(value, 1024, IEC("b"), decimals);
    case "decbits":
      return scaled(value, 1000, SI("b"), decimals);
    case "bps":
      return scaled(value, 1000, SI("bps"), decimals);
    case "Bps":
      return scaled(value, 1000, SI("B/s"), decimals);
    case "binBps":
      return scaled(value, 1024, IEC("B/s"), decimals);
    case "binbps":
      return scaled(value, 1024, IEC("bps"), decimals);
    case "KBs":
      return scaled(value, 1000, SI("B/s").slice(1), decimals);
    case "MBs":
      return scaled(value, 1000, SI("B/s").slice(2), decimals);
    case "s":
    case "dtdurations":
      return time(value, 1000, decimals);
    case "ms":
    case "dtdurationms":
      return time(value, 1, decimals);
    case "µs":
    case "us":
      return time(value, 0.001, decimals);
    case "ns":
      return time(value, 0.000001, decimals);
    case "m":
      return time(value, 60_000, decimals);
    case "h":
      return time(value, 3_600_000, decimals);
    case "d":
      return time(value, 86_400_000, decimals);
    case "ops":
      return scaled(value, 1000, ["ops/s", "K ops/s", "M ops/s", "B ops/s"], decimals);
    case "reqps":
    case "rps":
      return scaled(value, 1000, ["req/s", "K req/s", "M req/s", "B req/s"], decimals);
    case "wps":
      return scaled(value, 1000, ["wps", "K wps", "M wps"], decimals);
    case "iops":
      return scaled(value, 1000, ["io/s", "K io/s", "M io/s"], decimals);
    case "cps":
      return scaled(value, 1000, ["c/s", "K c/s", "M c/s"], decimals);
    case "pps":
      return scaled(value, 1000, ["p/s", "K p/s", "M p/s"], decimals);
    case "rpm":
    case "reqpm":
      return scaled(value, 1000, ["req/m", "K req/m", "M req/m"], decimals);
    case "opm":
      return scaled(value, 1000, ["ops/m", "K ops/m", "M ops/m"], decimals);
    case "cpm":
      return scaled(value, 1000, ["c/m", "K c/m", "M c/m"], decimals);
    case "hertz":
      return scaled(value, 1000, SI("Hz"), decimals);
    case "watt":
      return scaled(value, 1000, SI("W"), decimals);
    case "volt":
      return scaled(value, 1000, SI("V"), decimals);
    case "amp":
      return scaled(value, 1000, SI("A"), decimals);
    case "celsius":
      return withSuffix(value, "°C", decimals);
    case "fahrenheit":
      return withSuffix(value, "°F", decimals);
    case "currencyUSD":
      return { text: "$" + fixed(value, decimals ?? 2), suffix: "" };
    case "currencyEUR":
      return { text: "€" + fixed(value, decimals ?? 2), suffix: "" };
    case "locale":
      return { text: value.toLocaleString(), suffix: "" };
    case "sci":
      return { text: value.toExponential(decimals ?? 2), suffix: "" };
    case "bool":
      return { text: value ? "true" : "false", suffix: "" };
    case "bool_yes_no":
      return { text: value ? "yes" : "no", suffix: "" };
    case "bool_on_off":
      return { text: value ? "on" : "off", suffix: "" };
    case "dateTimeAsIso":
      return { text: new Date(value).toISOString(), suffix: "" };
    case "dateTimeFromNow": {
      const diff = Date.now() - value;
      return { text: time(Math.abs(diff), 1, 0).text, suffix: time(Math.abs(diff), 1, 0).suffix + (diff >= 0 ? " ago" : " from now") };
    }
    default:
      return { text: fixed(value, decimals), suffix: u ? " " + u : "" };
  }
}

/** Formats a value in a unit as one string. */
export function formatText(value: number | null | undefined, unit?: string, decimals?: number): string {
  const f = formatValue(value, unit, decimals);
  return f.text + f.suffix;
}
