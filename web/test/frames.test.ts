import { describe, expect, it } from "vitest";
import { alignFrames, toFrames } from "../src/lib/frames";

describe("frames", () => {
  it("names series with the legend format and parses special values", () => {
    const f = toFrames({ resultType: "matrix", result: [{ metric: { pod: "a" }, values: [[10, "1"], [20, "+Inf"]] }] }, "A", "{{pod}}");
    expect(f[0].name).toBe("a");
    expect(f[0].timestamps).toEqual([10_000, 20_000]);
    expect(f[0].values).toEqual([1, Infinity]);
  });
  it("aligns series on the union of timestamps with gaps as null", () => {
    const a = { refId: "A", labels: {}, name: "a", timestamps: [1000, 2000], values: [1, 2] };
    const b = { refId: "A", labels: {}, name: "b", timestamps: [2000, 3000], values: [5, Infinity] };
    expect(alignFrames([a, b])).toEqual({ timestamps: [1, 2, 3], values: [[1, 2, null], [null, 5, null]] });
  });
});
