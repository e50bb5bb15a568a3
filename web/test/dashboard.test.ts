import { describe, expect, it } from "vitest";
import { applyVariableRegex, dragged, layoutDashboard, parseVariableQuery, placePanel, readDashboard, type Panel } from "../src/lib/dashboard";

const pos = (x: number, y: number, w: number, h: number) => ({ x, y, w, h });

describe("readDashboard", () => {
  it("unwraps the API envelope and migrates legacy graph and singlestat", () => {
    const { dashboard, report } = readDashboard({
      dashboard: {
        title: "Old",
        panels: [
          { type: "graph", title: "g", gridPos: pos(0, 0, 12, 8), yaxes: [{ format: "bytes", decimals: 1 }], legend: { show: true, max: true, avg: true, current: true }, targets: [{ expr: "up" }] },
          { type: "singlestat", title: "s", gridPos: pos(12, 0, 12, 8), format: "percent", valueName: "current", thresholds: "50,80", colors: ["green", "orange", "red"], targets: [{ expr: "up" }] },
        ],
      },
    });
    expect(dashboard.panels[0].type).toBe("timeseries");
    expect(dashboard.panels[0].fieldConfig?.defaults?.unit).toBe("bytes");
    expect(dashboard.panels[0].options?.legend.calcs).toEqual(["max", "mean", "lastNotNull"]);
    expect(dashboard.panels[1].type).toBe("stat");
    expect(dashboard.panels[1].fieldConfig?.defaults?.thresholds?.steps).toEqual([
      { color: "green", value: null },
      { color: "orange", value: 50 },
      { color: "red", value: 80 },
    ]);
    expect(report.panels).toEqual([]);
  });
  it("migrates legacy graph thresholds to steps drawn as lines and areas", () => {
    const { dashboard, report } = readDashboard({
      title: "t",
      panels: [
        { type: "graph", title: "gt", gridPos: pos(0, 0, 12, 8), thresholds: [{ value: 90, op: "gt", colorMode: "critical", fill: true, line: true }, { value: 70, op: "gt", colorMode: "warning", fill: true, line: false }] },
        { type: "graph", title: "lt", gridPos: pos(12, 0, 12, 8), thresholds: [{ value: 5, op: "lt", colorMode: "ok", fill: false, line: true }, { value: 10, op: "lt", colorMode: "warning", fill: false, line: true }] },
        { type: "graph", title: "bad", gridPos: pos(0, 8, 12, 8), thresholds: [{ value: "", op: "gt" }] },
      ],
    });
    const [gt, lt, bad] = dashboard.panels;
    expect(gt.fieldConfig?.defaults?.thresholds?.steps).toEqual([
      { value: null, color: "transparent" },
      { value: 70, color: "orange" },
      { value: 90, color: "red" },
    ]);
    expect(gt.fieldConfig?.defaults?.custom?.thresholdsStyle).toEqual({ mode: "line+area" });
    // Below 5 green, 5 to 10 orange, nothing above 10.
    expect(lt.fieldConfig?.defaults?.thresholds?.steps).toEqual([
      { value: null, color: "green" },
      { value: 5, color: "orange" },
      { value: 10, color: "transparent" },
    ]);
    expect(lt.fieldConfig?.defaults?.custom?.thresholdsStyle).toEqual({ mode: "line" });
    expect(bad.fieldConfig?.defaults?.thresholds).toBeUndefined();
    expect(report.panels).toEqual([{ title: "bad", issues: ["graph threshold 0 has no numeric value; not drawn"] }]);
  });
  it("reports unsupported panels, transformations and overrides panel by panel", () => {
    const { report } = readDashboard({
      title: "x",
      panels: [
        { type: "nodeGraph", title: "graph", gridPos: pos(0, 0, 12, 8) },
        { type: "timeseries", title: "ts", gridPos: pos(12, 0, 12, 8), transformations: [{ id: "merge" }, { id: "calculateField" }], fieldConfig: { overrides: [{ matcher: { id: "byRowIndex" }, properties: [{ id: "custom.gradientMode" }] }] }, targets: [{ expr: "up" }] },
      ],
      templating: { list: [{ type: "loki", name: "l" }] },
    });
    expect(report.panels.map((p) => p.title)).toEqual(["graph", "ts"]);
    expect(report.panels[0].issues[0]).toMatch(/nodeGraph/);
    expect(report.panels[1].issues).toEqual([
      'transformation "calculateField" is not applied',
      'override matcher "byRowIndex" is not supported',
      'override property "custom.gradientMode" is not supported',
    ]);
    expect(report.dashboard[0]).toMatch(/"l" of type "loki"/);
  });
  it("converts schema-less rows into row panels", () => {
    const { dashboard } = readDashboard({ title: "r", rows: [{ title: "A", panels: [{ type: "graph", span: 6 }, { type: "graph", span: 6 }] }, { title: "B", panels: [{ type: "text", span: 12 }] }] });
    expect(dashboard.panels.map((p) => [p.type, p.gridPos.x, p.gridPos.w])).toEqual([
      ["row", 0, 24], ["timeseries", 0, 12], ["timeseries", 12, 12], ["row", 0, 24], ["text", 0, 24],
    ]);
  });
  it("refuses what is not a dashboard", () => {
    expect(() => readDashboard([1, 2])).toThrow(/not a dashboard/);
    expect(() => readDashboard({ title: "x" })).toThrow(/neither panels nor rows/);
  });
});

describe("variable queries", () => {
  it("parses Grafana's Prometheus variable functions", () => {
    expect(parseVariableQuery("label_values(job)")).toEqual({ kind: "label_values", label: "job" });
    expect(parseVariableQuery('label_values(up{env="a"}, instance)')).toEqual({ kind: "label_values", label: "instance", match: 'up{env="a"}' });
    expect(parseVariableQuery("metrics(istio_.*)")).toEqual({ kind: "metrics", regex: "istio_.*" });
    expect(parseVariableQuery({ query: "query_result(sum(x) by (a))" })).toEqual({ kind: "query_result", expr: "sum(x) by (a)" });
  });
  it("extracts values with the variable regex", () => {
    const texts = ['{destination_service="a.ns.svc"} 1 1700000000', '{destination_service="b.ns.svc"} 2 1700000000', "nothing"];
    expect(applyVariableRegex(texts, '/.*destination_service="([^"]*).*/').map((o) => o.value)).toEqual(["a.ns.svc", "b.ns.svc"]);
    expect(applyVariableRegex(["a", "b", "a"], "")).toEqual([{ text: "a", value: "a" }, { text: "b", value: "b" }]);
    expect(applyVariableRegex(["k=v1"], "/k=(?<value>.*)/")[0].value).toBe("v1");
  });
});

describe("layout", () => {
  const ts = (id: number, p: ReturnType<typeof pos>, extra: Partial<Panel> = {}): Panel => ({ id, type: "timeseries", gridPos: p, ...extra });
  const none = { valuesOf: () => [] as string[], toggled: new Set<string>() };
  it("packs panels upward below their rows", () => {
    const items = layoutDashboard([ts(1, pos(0, 5, 12, 8)), { id: 9, type: "row", gridPos: pos(0, 20, 24, 1) }, ts(2, pos(0, 21, 24, 4))], none);
    expect(items.map((i) => [i.key, i.pos.y])).toEqual([["p1", 0], ["r9", 8], ["r9/p2", 9]]);
  });
  it("hides the panels of a collapsed row and shows them when toggled", () => {
    const panels: Panel[] = [{ id: 1, type: "row", collapsed: true, gridPos: pos(0, 0, 24, 1), panels: [ts(2, pos(0, 1, 12, 6))] }, { id: 3, type: "row", gridPos: pos(0, 1, 24, 1) }, ts(4, pos(0, 2, 24, 3))];
    expect(layoutDashboard(panels, none).map((i) => [i.key, i.pos.y])).toEqual([["r1", 0], ["r3", 1], ["r3/p4", 2]]);
    const open = layoutDashboard(panels, { ...none, toggled: new Set(["r1"]) });
    expect(open.map((i) => [i.key, i.pos.y])).toEqual([["r1", 0], ["r1/p2", 1], ["r3", 7], ["r3/p4", 8]]);
  });
  it("repeats panels horizontally and wraps at maxPerRow", () => {
    const items = layoutDashboard([ts(1, pos(0, 0, 8, 5), { repeat: "pod", maxPerRow: 2 }), ts(2, pos(0, 5, 24, 5))], { ...none, valuesOf: () => ["a", "b", "c"] });
    expect(items.map((i) => [i.key, i.pos.x, i.pos.y, i.pos.w])).toEqual([
      ["p1~a", 0, 0, 12], ["p1~b", 12, 0, 12], ["p1~c", 0, 5, 12], ["p2", 0, 10, 24],
    ]);
    expect(items[2].scoped).toEqual({ pod: "c" });
  });
  it("repeats rows with their panels, each copy scoped to one value", () => {
    const items = layoutDashboard([{ id: 1, type: "row", repeat: "ns", gridPos: pos(0, 0, 24, 1) }, ts(2, pos(0, 1, 24, 4))], { ...none, valuesOf: () => ["x", "y"] });
    expect(items.map((i) => [i.key, i.pos.y, JSON.stringify(i.scoped)])).toEqual([
      ["r1~x", 0, '{"ns":"x"}'], ["r1~x/p2", 1, '{"ns":"x"}'], ["r1~y", 5, '{"ns":"y"}'], ["r1~y/p2", 6, '{"ns":"y"}'],
    ]);
  });
});

describe("moving and resizing panels", () => {
  const panel = (id: number, x: number, y: number, w: number, h: number): Panel => ({ id, type: "timeseries", gridPos: pos(x, y, w, h) });
  it("moves and resizes by whole cells within the 24 columns", () => {
    expect(dragged(pos(0, 0, 12, 8), "resize", 4, 2)).toEqual(pos(0, 0, 16, 10));
    expect(dragged(pos(12, 0, 12, 8), "resize", 6, -9)).toEqual(pos(12, 0, 12, 2));
    expect(dragged(pos(0, 4, 12, 8), "move", 20, -10)).toEqual(pos(12, 0, 12, 8));
  });
  it("pushes the panels a moved panel lands on below it, in cascade", () => {
    const panels = [panel(1, 0, 0, 12, 8), panel(2, 12, 0, 12, 8), panel(3, 12, 8, 12, 4)];
    const moved = placePanel(panels, 0, pos(12, 0, 12, 8));
    expect(moved.map((p) => p.gridPos)).toEqual([pos(12, 0, 12, 8), pos(12, 8, 12, 8), pos(12, 16, 12, 4)]);
    // The layout then floats them up under each other in the right column.
    const laid = layoutDashboard(moved, { valuesOf: () => [], toggled: new Set() });
    expect(laid.map((it) => [it.panel.id, it.pos.y])).toEqual([[1, 0], [2, 8], [3, 16]]);
    // Untouched panels are the same objects.
    expect(placePanel(panels, 2, pos(0, 8, 12, 4))[0]).toBe(panels[0]);
  });
});
