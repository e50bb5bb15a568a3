import { describe, expect, it } from "vitest";
import { formatText } from "../src/lib/units";

describe("units", () => {
  it("formats bytes in IEC and decimal bytes in SI", () => {
    expect(formatText(1536, "bytes")).toBe("1.5 KiB");
    expect(formatText(3 * 1024 * 1024 * 1024, "bytes")).toBe("3 GiB");
    expect(formatText(1500, "decbytes")).toBe("1.5 kB");
  });
  it("formats percent and percentunit", () => {
    expect(formatText(42.5, "percent")).toBe("42.5%");
    expect(formatText(0.953, "percentunit", 1)).toBe("95.3%");
  });
  it("scales time units", () => {
    expect(formatText(0.25, "s")).toBe("250 ms");
    expect(formatText(90, "s")).toBe("1.5 min");
    expect(formatText(1500, "ms")).toBe("1.5 s");
    expect(formatText(7200, "s")).toBe("2 hours");
  });
  it("formats rates", () => {
    expect(formatText(12.345, "reqps")).toBe("12.3 req/s");
    expect(formatText(2500, "ops")).toBe("2.5 K ops/s");
    expect(formatText(2_000_000, "short")).toBe("2 Mil");
  });
  it("honours decimals, custom suffixes and missing values", () => {
    expect(formatText(3.14159, "none", 2)).toBe("3.14");
    expect(formatText(5, "suffix: pods")).toBe("5 pods");
    expect(formatText(null, "bytes")).toBe("No data");
    expect(formatText(Infinity, "s")).toBe("+Inf");
  });
});
