import { describe, expect, it } from "vitest";
import { backoffDelay } from "./backoff";

describe("backoffDelay", () => {
  it("doubles from 500 ms up to 15 s, with half of it jittered", () => {
    expect(backoffDelay(1, () => 0)).toBe(250);
    expect(backoffDelay(1, () => 1)).toBe(500);
    expect(backoffDelay(2, () => 1)).toBe(1000);
    expect(backoffDelay(3, () => 1)).toBe(2000);
    expect(backoffDelay(6, () => 1)).toBe(15000);
    expect(backoffDelay(100, () => 0)).toBe(7500);
    expect(backoffDelay(0, () => 1)).toBe(500);
  });
});
