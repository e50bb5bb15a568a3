import { describe, expect, it } from "vitest";
import { computeIntervals, formatDuration, parseDuration, parseTime, resolveRange, roundInterval } from "../src/lib/time";

const NOW = Date.UTC(2026, 10, 5, 12, 34, 56, 789);

describe("durations", () => {
  it("parses compound Prometheus durations", () => {
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("2d")).toBe(172_800_000);
    expect(parseDuration("5x")).toBeNull();
    expect(parseDuration("")).toBeNull();
  });
  it("formats the shortest duration", () => {
    expect(formatDuration(5_400_000)).toBe("1h30m");
    expect(formatDuration(15_000)).toBe("15s");
    expect(formatDuration(1500)).toBe("1s500ms");
  });
});

describe("time expressions", () => {
  it("resolves relative times against now", () => {
    expect(parseTime("now", NOW)).toBe(NOW);
    expect(parseTime("now-6h", NOW)).toBe(NOW - 6 * 3_600_000);
    expect(parseTime("now-1h-30m", NOW)).toBe(NOW - 5_400_000);
  });
  it("rounds with /unit", () => {
    const t = parseTime("now/h", NOW)!;
    expect(new Date(t).getMinutes()).toBe(0);
    expect(new Date(t).getSeconds()).toBe(0);
    expect(t).toBeLessThanOrEqual(NOW);
  });
  it("accepts epoch milliseconds and ISO dates", () => {
    expect(parseTime("1700000000000", NOW)).toBe(1_700_000_000_000);
    expect(parseTime("2026-01-02T03:04:05Z", NOW)).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(parseTime("yesterday-ish", NOW)).toBeNull();
  });
  it("refuses an empty or reversed range", () => {
    expect(() => resolveRange({ from: "now", to: "now-1h" }, NOW)).toThrow(/before/);
    expect(() => resolveRange({ from: "bogus", to: "now" }, NOW)).toThrow(/bogus/);
  });
});

describe("intervals", () => {
  it("snaps to nice intervals", () => {
    expect(roundInterval(13_000)).toBe(15_000);
    expect(roundInterval(61_000)).toBe(60_000);
    expect(roundInterval(100_000)).toBe(120_000);
  });
  it("computes $__interval and $__rate_interval like Grafana", () => {
    const range = { from: 0, to: 6 * 3_600_000 };
    const i = computeIntervals({ range, maxDataPoints: 1000 });
    expect(i.intervalMs).toBe(20_000); // 21.6 s, rounded to the nearest nice interval
    expect(i.rateIntervalMs).toBe(60_000); // max(20 s + 15 s, 4 × 15 s)
    expect(i.rangeMs).toBe(6 * 3_600_000);
  });
  it("never goes below the minimum interval", () => {
    const i = computeIntervals({ range: { from: 0, to: 300_000 }, maxDataPoints: 1000, minInterval: ">=1m" });
    expect(i.intervalMs).toBe(60_000);
    expect(i.rateIntervalMs).toBe(75_000);
  });
});
