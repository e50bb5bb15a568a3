import { describe, expect, it } from "vitest";
import { applyMappings, fieldConfigFor, reduce, thresholdColor } from "../src/lib/fields";

describe("fields", () => {
  it("reduces series", () => {
    const v = [1, null, 4, 2];
    expect(reduce(v, "min")).toBe(1);
    expect(reduce(v, "max")).toBe(4);
    expect(reduce(v, "mean")).toBeCloseTo(7 / 3);
    expect(reduce(v, "lastNotNull")).toBe(2);
    expect(reduce([null], "mean")).toBeNull();
    expect(reduce([5, 7, 2, 4], "delta")).toBe(6); // counter reset at 2
  });
  it("picks the threshold step", () => {
    const t = { mode: "absolute" as const, steps: [{ color: "green", value: null }, { color: "red", value: 80 }] };
    expect(thresholdColor(10, t)).toBe("#73BF69");
    expect(thresholdColor(80, t)).toBe("#F2495C");
    expect(thresholdColor(0.9, { mode: "percentage", steps: t.steps }, 0, 1)).toBe("#F2495C");
  });
  it("maps values, ranges and specials", () => {
    const maps = [
      { type: "value", options: { "1": { text: "UP", color: "green" } } },
      { type: "range", options: { from: 2, to: 10, result: { text: "some" } } },
      { type: "special", options: { match: "null", result: { text: "N/A" } } },
    ];
    expect(applyMappings(1, maps)).toEqual({ text: "UP", color: "#73BF69" });
    expect(applyMappings(5, maps)?.text).toBe("some");
    expect(applyMappings(null, maps)?.text).toBe("N/A");
    expect(applyMappings(50, maps)).toBeUndefined();
  });
  it("applies overrides by name, regex and query", () => {
    const overrides = [
      { matcher: { id: "byName", options: "errors" }, properties: [{ id: "unit", value: "percent" }, { id: "custom.fillOpacity", value: 50 }] },
      { matcher: { id: "byRegexp", options: "/^p9.*/" }, properties: [{ id: "decimals", value: 3 }] },
      { matcher: { id: "byFrameRefID", options: "B" }, properties: [{ id: "displayName", value: "bee" }] },
    ];
    const d = { unit: "short", custom: { lineWidth: 1 } };
    expect(fieldConfigFor(d, overrides, "errors", "A")).toEqual({ unit: "percent", custom: { lineWidth: 1, fillOpacity: 50 } });
    expect(fieldConfigFor(d, overrides, "p99", "A").decimals).toBe(3);
    expect(fieldConfigFor(d, overrides, "x", "B").displayName).toBe("bee");
    expect(d.custom).toEqual({ lineWidth: 1 });
  });
});
