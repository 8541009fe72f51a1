import { describe, expect, it } from "vitest";
import { formatCountdown, formatDuration, noteServerTime, serverNow } from "./time";

describe("formatCountdown", () => {
  it("shows m:ss, rounding up", () => {
    expect(formatCountdown(30_000)).toBe("0:30");
    expect(formatCountdown(29_001)).toBe("0:30");
    expect(formatCountdown(29_000)).toBe("0:29");
    expect(formatCountdown(9_500)).toBe("0:10");
    expect(formatCountdown(1)).toBe("0:01");
    expect(formatCountdown(61_000)).toBe("1:01");
    expect(formatCountdown(600_000)).toBe("10:00");
  });
  it("shows 0:00 once the deadline has passed", () => {
    expect(formatCountdown(0)).toBe("0:00");
    expect(formatCountdown(-5000)).toBe("0:00");
    expect(formatCountdown(Number.NaN)).toBe("0:00");
  });
});

describe("formatDuration", () => {
  it("reads at a glance", () => {
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(42_999)).toBe("42s");
    expect(formatDuration(60_000)).toBe("1m 00s");
    expect(formatDuration(185_000)).toBe("3m 05s");
    expect(formatDuration(3_600_000 + 2 * 60_000 + 59_000)).toBe("1h 02m");
    expect(formatDuration(-1)).toBe("0s");
  });
});

describe("server clock", () => {
  it("follows the offset of the latest server time", () => {
    noteServerTime(10_000, 7_000);
    expect(serverNow(8_000)).toBe(11_000);
    noteServerTime(0, 0);
    expect(serverNow(5)).toBe(5);
  });
});
