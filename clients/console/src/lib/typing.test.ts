import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { TypingNotifier } from "./typing";

describe("TypingNotifier", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("says typing once, repeats it at most every 3 s, and stops after 4 s idle", () => {
    const sent: boolean[] = [];
    const n = new TypingNotifier((t) => sent.push(t));
    n.input("h");
    n.input("he");
    n.input("hel");
    expect(sent).toEqual([true]);
    vi.advanceTimersByTime(2000);
    n.input("hell");
    expect(sent).toEqual([true]);
    vi.advanceTimersByTime(1000);
    n.input("hello");
    expect(sent).toEqual([true, true]);
    vi.advanceTimersByTime(3999);
    expect(sent).toEqual([true, true]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([true, true, false]);
  });

  it("stops when the box is emptied or the message sent, once", () => {
    const sent: boolean[] = [];
    const n = new TypingNotifier((t) => sent.push(t));
    n.input("hi");
    n.input("");
    n.stop();
    expect(sent).toEqual([true, false]);
    n.input("  ");
    expect(sent).toEqual([true, false]);
    n.input("again");
    n.stop();
    vi.advanceTimersByTime(10_000);
    expect(sent).toEqual([true, false, true, false]);
  });

  it("dispose drops the timer silently", () => {
    const sent: boolean[] = [];
    const n = new TypingNotifier((t) => sent.push(t));
    n.input("x");
    n.dispose();
    vi.advanceTimersByTime(10_000);
    expect(sent).toEqual([true]);
  });
});
