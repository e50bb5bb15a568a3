import { describe, expect, it } from "vitest";
import { matcherText, parseMatcher } from "../src/lib/matchers";

describe("silence matchers", () => {
  it("parses the four operators", () => {
    expect(parseMatcher('alertname="HighErrorRatio"')).toEqual({ name: "alertname", value: "HighErrorRatio", isRegex: false, isEqual: true });
    expect(parseMatcher('job=~"api|web"')).toEqual({ name: "job", value: "api|web", isRegex: true, isEqual: true });
    expect(parseMatcher('env!="dev"')).toEqual({ name: "env", value: "dev", isRegex: false, isEqual: false });
    expect(parseMatcher('pod!~"canary-.*"')).toEqual({ name: "pod", value: "canary-.*", isRegex: true, isEqual: false });
    expect(parseMatcher("not a matcher")).toBeNull();
  });
  it("writes matchers back", () => {
    for (const text of ['a="b"', 'a=~"b.*"', 'a!="b"', 'a!~"b"']) expect(matcherText(parseMatcher(text)!)).toBe(text);
  });
});
