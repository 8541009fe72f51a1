// @vitest-environment jsdom
// What the widget reports for the trigger rules: device class, language,
// referrer, and the visitor's activity on the page — sparingly: at most a
// report every 5 s (exit intent at once), nothing when nothing changed, and
// nothing after stop.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DeviceClass } from "../gen/proactivechat/v1/site_pb";
import { ActivityTracker, clientInfo, deviceClass, referrer, scrollPercent, type ActivityInit } from "./activity";

function fakeWindow(width: number, height: number, coarse: boolean) {
  return {
    screen: { width, height } as Screen,
    matchMedia: (q: string) => ({ matches: q === "(pointer: coarse)" && coarse }) as MediaQueryList,
    navigator: { language: "de-AT" } as Navigator,
  };
}

describe("deviceClass", () => {
  it("tells a phone (either way up), a tablet and a desktop apart", () => {
    expect(deviceClass(fakeWindow(390, 844, true))).toBe(DeviceClass.PHONE);
    expect(deviceClass(fakeWindow(844, 390, true))).toBe(DeviceClass.PHONE);
    expect(deviceClass(fakeWindow(767, 1024, false))).toBe(DeviceClass.PHONE);
    expect(deviceClass(fakeWindow(768, 1024, true))).toBe(DeviceClass.TABLET);
    expect(deviceClass(fakeWindow(1366, 1024, true))).toBe(DeviceClass.TABLET);
    expect(deviceClass(fakeWindow(1920, 1080, false))).toBe(DeviceClass.DESKTOP);
  });

  it("goes with the language in ClientInfo", () => {
    expect(clientInfo(fakeWindow(1920, 1080, false))).toEqual({ device: DeviceClass.DESKTOP, language: "de-AT" });
  });
});

describe("referrer", () => {
  it("keeps http(s) URLs within 2048 bytes and drops anything else", () => {
    expect(referrer("https://www.google.com/search?q=chat")).toBe("https://www.google.com/search?q=chat");
    expect(referrer("")).toBe("");
    expect(referrer("about:blank")).toBe("");
    expect(referrer("android-app://com.google.android.gm/")).toBe("");
    expect(referrer(`https://news.example/a/b?${"x".repeat(3000)}`)).toBe("https://news.example/a/b");
    expect(referrer(`https://news.example/${"p".repeat(3000)}`)).toBe("https://news.example/");
  });
});

/** page sets up a 4000 px page seen through a 1000 px window, scrolled to y. */
function scrollTo(y: number) {
  Object.defineProperty(window, "scrollY", { value: y, configurable: true });
  window.dispatchEvent(new Event("scroll"));
}

describe("ActivityTracker", () => {
  let sent: { activity: ActivityInit; url: string; at: number }[];
  let url: string;
  let tracker: ActivityTracker | undefined;
  const t0 = new Date("2026-12-07T10:00:00Z").getTime();
  const start = (desktop = true) => {
    tracker = new ActivityTracker({
      send: async (activity, pageUrl) => void sent.push({ activity, url: pageUrl, at: Date.now() - t0 }),
      pageUrl: () => url,
      desktop,
    });
    tracker.start();
    return tracker;
  };

  beforeEach(() => {
    vi.useFakeTimers({ now: t0 });
    sent = [];
    url = "https://shop.example/cart";
    Object.defineProperty(document.documentElement, "scrollHeight", { value: 4000, configurable: true });
    Object.defineProperty(window, "innerHeight", { value: 1000, configurable: true });
    Object.defineProperty(window, "scrollY", { value: 0, configurable: true });
  });
  afterEach(() => {
    tracker?.stop();
    vi.useRealTimers();
  });

  it("measures depth as the bottom of the viewport on the page", () => {
    expect(scrollPercent(document, window)).toBe(25);
    Object.defineProperty(window, "scrollY", { value: 3000, configurable: true });
    expect(scrollPercent(document, window)).toBe(100);
  });

  it("reports scroll depth when it grows by 5 points or more (or reaches the bottom), the deepest reached", () => {
    start();
    scrollTo(100); // 27%: from 0 that is a change
    expect(sent.map((s) => s.activity)).toEqual([{ scrollPercent: 27, exitIntent: false, interacted: false }]);
    vi.advanceTimersByTime(10_000);
    scrollTo(140); // 28%: less than 5 points more
    scrollTo(0); // back up: the deepest stays
    vi.advanceTimersByTime(10_000);
    expect(sent).toHaveLength(1);
    scrollTo(1000); // 50%
    expect(sent.at(-1)!.activity).toEqual({ scrollPercent: 50, exitIntent: false, interacted: false });
    scrollTo(2900); // 97%, within 5 s of the last report: waits for it
    expect(sent).toHaveLength(2);
    scrollTo(2990); // 99%
    vi.advanceTimersByTime(4999);
    expect(sent).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sent.at(-1)).toEqual({ activity: { scrollPercent: 99, exitIntent: false, interacted: false }, url, at: 25_000 });
    vi.advanceTimersByTime(10_000);
    scrollTo(3000); // the bottom: 1 point more, but it is the end of the page
    expect(sent.at(-1)!.activity.scrollPercent).toBe(100);
    expect(sent).toHaveLength(4);
  });

  it("counts the depth already scrolled when it starts (before the stream opened, or a page restored mid-way)", () => {
    Object.defineProperty(window, "scrollY", { value: 2000, configurable: true });
    start();
    expect(sent.map((s) => s.activity)).toEqual([{ scrollPercent: 75, exitIntent: false, interacted: false }]);
    tracker!.stop();
    sent = [];
    Object.defineProperty(window, "scrollY", { value: 0, configurable: true });
    start(); // at the top: nothing to say
    expect(sent).toEqual([]);
  });

  it("reports interaction at most every 5 s, only while it happens", () => {
    start();
    const key = () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "a" }));
    vi.advanceTimersByTime(20_000);
    expect(sent).toEqual([]); // nothing happened, nothing sent
    key();
    expect(sent.map((s) => [s.at, s.activity.interacted])).toEqual([[20_000, true]]);
    // Typing on for 12 s: one report per 5 s.
    for (let i = 0; i < 12; i++) {
      vi.advanceTimersByTime(1000);
      window.dispatchEvent(new Event(i % 2 ? "pointermove" : "wheel"));
      key();
    }
    expect(sent.map((s) => s.at)).toEqual([20_000, 25_000, 30_000]);
    // Then still: the last bit of it goes, then nothing.
    vi.advanceTimersByTime(60_000);
    expect(sent.map((s) => s.at)).toEqual([20_000, 25_000, 30_000, 35_000]);
    window.dispatchEvent(new Event("touchstart"));
    expect(sent.map((s) => s.at)).toEqual([20_000, 25_000, 30_000, 35_000, 92_000]);
  });

  it("reports exit intent at once, once per page, on a desktop only", () => {
    start();
    window.dispatchEvent(new Event("pointermove"));
    expect(sent).toHaveLength(1);
    // Leaving through the side, or into another element, is not exit intent.
    document.dispatchEvent(new MouseEvent("mouseout", { clientY: 300, clientX: -1 }));
    document.dispatchEvent(new MouseEvent("mouseout", { clientY: -2, relatedTarget: document.body }));
    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(1);
    // Up through the top edge, toward the browser's bar: within the 5 s, at once.
    document.dispatchEvent(new MouseEvent("mouseout", { clientY: -2 }));
    expect(sent).toHaveLength(2);
    expect(sent[1].activity).toEqual({ scrollPercent: 0, exitIntent: true, interacted: false });
    document.dispatchEvent(new MouseEvent("mouseout", { clientY: 0 }));
    vi.advanceTimersByTime(10_000);
    expect(sent).toHaveLength(2);
    // Another page of a single-page app starts over.
    url = "https://shop.example/checkout";
    tracker!.newPage();
    document.dispatchEvent(new MouseEvent("mouseout", { clientY: 0 }));
    expect(sent.at(-1)).toMatchObject({ url: "https://shop.example/checkout", activity: { exitIntent: true } });

    tracker!.stop();
    sent = [];
    start(false);
    document.dispatchEvent(new MouseEvent("mouseout", { clientY: -5 }));
    vi.advanceTimersByTime(10_000);
    expect(sent).toEqual([]);
  });

  it("starts over on another page: its depth, its URL, nothing pending of the old one", () => {
    start();
    scrollTo(2000); // 75%
    window.dispatchEvent(new Event("pointerdown")); // pending for 5 s
    url = "https://shop.example/checkout";
    tracker!.newPage();
    vi.advanceTimersByTime(10_000);
    expect(sent.map((s) => s.url)).toEqual(["https://shop.example/cart"]);
    scrollTo(2100); // 77% of the new page
    expect(sent.at(-1)).toEqual({ activity: { scrollPercent: 77, exitIntent: false, interacted: false }, url, at: 10_000 });
  });

  it("says depth and exit intent again when asked (a reconnected stream), and nothing when there is none", () => {
    start();
    tracker!.resend();
    vi.advanceTimersByTime(10_000);
    expect(sent).toEqual([]);
    scrollTo(2000); // 75%
    document.dispatchEvent(new MouseEvent("mouseout", { clientY: -1 }));
    expect(sent).toHaveLength(2);
    vi.advanceTimersByTime(10_000);
    tracker!.resend();
    expect(sent.at(-1)).toEqual({ activity: { scrollPercent: 75, exitIntent: true, interacted: false }, url, at: 20_000 });
    expect(sent).toHaveLength(3);
  });

  it("stops: no listener, no pending report", () => {
    start();
    window.dispatchEvent(new Event("pointerdown"));
    window.dispatchEvent(new Event("pointerdown"));
    scrollTo(2000);
    expect(sent).toHaveLength(1);
    tracker!.stop();
    vi.advanceTimersByTime(10_000);
    scrollTo(3000);
    window.dispatchEvent(new Event("keydown"));
    document.dispatchEvent(new MouseEvent("mouseout", { clientY: -1 }));
    vi.advanceTimersByTime(10_000);
    expect(sent).toHaveLength(1);
  });
});
