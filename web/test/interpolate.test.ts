import { describe, expect, it } from "vitest";
import { ALL, builtinScope, interpolate, referencedVariables, renderLegend, type Scope } from "../src/lib/interpolate";

const scope: Scope = {
  ns: { values: ["default"] },
  svc: { values: ["a.b", "c"], multi: true, options: ["a.b", "c", "d"] },
  all: { values: [ALL], includeAll: true, options: ["x", "y"] },
  allCustom: { values: [ALL], includeAll: true, options: ["x", "y"], allValue: ".*" },
  one: { values: ["v1"], multi: true },
};

describe("interpolate", () => {
  it("replaces all reference syntaxes", () => {
    expect(interpolate('up{ns="$ns"}', scope)).toBe('up{ns="default"}');
    expect(interpolate('up{ns="${ns}"}', scope)).toBe('up{ns="default"}');
    expect(interpolate('up{ns="[[ns]]"}', scope)).toBe('up{ns="default"}');
  });
  it("formats multi values as an escaped regex alternation", () => {
    expect(interpolate('up{svc=~"$svc"}', scope)).toBe('up{svc=~"(a\\\\.b|c)"}');
    expect(interpolate('up{x=~"$one"}', scope)).toBe('up{x=~"v1"}');
  });
  it("expands All into the options, or the custom all value", () => {
    expect(interpolate('up{a=~"$all"}', scope)).toBe('up{a=~"(x|y)"}');
    expect(interpolate('up{a=~"$allCustom"}', scope)).toBe('up{a=~".*"}');
  });
  it("applies explicit formats", () => {
    expect(interpolate("${svc:csv}", scope)).toBe("a.b,c");
    expect(interpolate("${svc:pipe}", scope)).toBe("a.b|c");
    expect(interpolate("${svc:json}", scope)).toBe('["a.b","c"]');
    expect(interpolate("${svc:raw}", scope)).toBe("a.b,c");
    expect(interpolate("${svc:regex}", scope)).toBe("(a\\\\.b|c)");
  });
  it("fills the built-in interval variables", () => {
    const b = builtinScope({ intervalMs: 30_000, rateIntervalMs: 60_000, rangeMs: 6 * 3_600_000 });
    expect(interpolate("rate(x[$__rate_interval]) + y[$__interval] / $__range_s offset $__range", {}, b)).toBe(
      "rate(x[1m]) + y[30s] / 21600 offset 6h",
    );
  });
  it("leaves unknown variables as written and lists references", () => {
    expect(interpolate("up{a=\"$nope\"}", scope)).toBe('up{a="$nope"}');
    expect(referencedVariables("$a ${b:csv} [[c]] $__interval")).toEqual(["a", "b", "c"]);
  });
  it("renders legend formats", () => {
    expect(renderLegend("{{pod}} - {{ code }}", { pod: "p1", code: "200" })).toBe("p1 - 200");
    expect(renderLegend("", { __name__: "up", job: "a" })).toBe('up{job="a"}');
  });
});
