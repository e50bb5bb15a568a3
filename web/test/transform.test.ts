import { describe, expect, it } from "vitest";
import { applyTableTransformations } from "../src/lib/transform";

const f = (refId: string, labels: Record<string, string>, v: number) => ({ refId, labels, name: "", timestamps: [1000], values: [v] });

describe("table transformations", () => {
  it("merges queries on equal labels into Value #refId columns", () => {
    const t = applyTableTransformations([f("requests", { svc: "a" }, 10), f("requests", { svc: "b" }, 20), f("p50", { svc: "a" }, 3)], [{ id: "merge" }]);
    expect(t.columns).toEqual(["Time", "svc", "Value #requests", "Value #p50"]);
    expect(t.rows).toEqual([[1000, "a", 10, 3], [1000, "b", 20, null]]);
  });
  it("merges queries whose label sets differ on the labels they share", () => {
    const t = applyTableTransformations([f("requests", { svc: "a.ns", wl: "a" }, 10), f("p50", { wl: "a" }, 3), f("p50", { wl: "b" }, 4)], [{ id: "merge" }]);
    expect(t.columns).toEqual(["Time", "svc", "wl", "Value #requests", "Value #p50"]);
    expect(t.rows).toEqual([[1000, "a.ns", "a", 10, 3], [1000, "", "b", null, 4]]);
  });
  it("organizes columns", () => {
    const t = applyTableTransformations([f("A", { svc: "a", ns: "x" }, 1)], [{ id: "organize", options: { excludeByName: { Time: true }, renameByName: { Value: "Rate" }, indexByName: { svc: 0, Value: 1, ns: 2 } } }]);
    expect(t.columns).toEqual(["svc", "Rate", "ns"]);
    expect(t.rows).toEqual([["a", 1, "x"]]);
  });
});
