import { describe, expect, test } from "bun:test";
import { formatGoDuration, formatLocalDateTime, formatRfc3339 } from "../../src/monitor/go-format.ts";

describe("formatGoDuration (Go's time.Duration.String)", () => {
  test.each([
    [0, "0s"],
    [0.0005, "500ns"],
    [0.0015, "1.5µs"],
    [1.5, "1.5ms"],
    [450, "450ms"],
    [999, "999ms"],
    [1000, "1s"],
    [1500, "1.5s"],
    [62_500, "1m2.5s"],
    [120_000, "2m0s"],
    [184_567, "3m4.567s"],
    [3_600_000, "1h0m0s"],
    [3_723_500, "1h2m3.5s"],
    [90_000_000, "25h0m0s"],
    [-1500, "-1.5s"],
  ])("%p ms → %p", (ms, want) => {
    expect(formatGoDuration(ms)).toBe(want);
  });
});

describe("formatRfc3339", () => {
  const t = Date.UTC(2025, 5, 30, 8, 11, 12, 120); // 2025-06-30T08:11:12.120Z
  test("seconds precision with a positive offset, as Go's time.RFC3339", () => {
    expect(formatRfc3339(t, { offsetMinutes: 120 })).toBe("2025-06-30T10:11:12+02:00");
  });
  test("a negative half-hour offset", () => {
    expect(formatRfc3339(t, { offsetMinutes: -330 })).toBe("2025-06-30T02:41:12-05:30");
  });
  test("UTC prints Z", () => {
    expect(formatRfc3339(t, { offsetMinutes: 0 })).toBe("2025-06-30T08:11:12Z");
  });
  test("RFC3339Nano trims trailing zeros of the fraction, and drops a zero fraction", () => {
    expect(formatRfc3339(t, { offsetMinutes: 0, fraction: true })).toBe("2025-06-30T08:11:12.12Z");
    expect(formatRfc3339(t - 120, { offsetMinutes: 0, fraction: true })).toBe("2025-06-30T08:11:12Z");
  });
  test("an offset that crosses midnight changes the date", () => {
    expect(formatRfc3339(Date.UTC(2025, 0, 1, 23, 30), { offsetMinutes: 60 })).toBe(
      "2025-01-02T00:30:00+01:00",
    );
  });
  test("the process's own zone by default parses back to the same instant", () => {
    expect(Date.parse(formatRfc3339(t, { fraction: true }))).toBe(t);
  });
  test("local date-time for the page", () => {
    expect(formatLocalDateTime(t, 120)).toBe("2025-06-30 10:11:12");
  });
});
