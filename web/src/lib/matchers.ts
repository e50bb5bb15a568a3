// Alertmanager matchers as typed in the silence form: `name="value"`, `name=~"re"`, `!=`, `!~`. Pure.

import type { Matcher } from "./api";

/** Parses `name="value"`, `name=~"regex"`, `name!="v"` or `name!~"re"` into a matcher. */
export function parseMatcher(text: string): Matcher | null {
  const m = /^\s*([a-zA-Z_][\w]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$/.exec(text);
  if (!m) return null;
  return { name: m[1], value: m[3], isRegex: m[2].endsWith("~"), isEqual: !m[2].startsWith("!") };
}

/** Writes a matcher back in the syntax `parseMatcher` reads. */
export function matcherText(m: Matcher): string {
  const op = (m.isEqual === false ? "!" : "=") + (m.isRegex ? "~" : m.isEqual === false ? "=" : "");
  return `${m.name}${op === "=" ? "=" : op}"${m.value}"`;
}

