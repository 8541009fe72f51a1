// What the widget tells the server about the browser and what the visitor
// does on the page, for the trigger rules' conditions: the device class and
// language (with StartVisitorSession), the referrer (with the page), and
// scroll depth, exit intent and interaction (ReportActivity). The server
// decides what it means; the widget only reports, and sparingly: passive
// listeners that set flags, at most one report every 5 s, nothing when
// nothing changed.

import type { MessageInitShape } from "@bufbuild/protobuf";
import { DeviceClass } from "../gen/proactivechat/v1/site_pb";
import type { ClientInfoSchema, VisitorActivitySchema } from "../gen/proactivechat/v1/targeting_pb";
import { cut } from "./page";

/** ClientInfoInit is ClientInfo as StartVisitorSession takes it. */
export type ClientInfoInit = MessageInitShape<typeof ClientInfoSchema>;
/** ActivityInit is VisitorActivity as ReportActivity takes it. */
export type ActivityInit = MessageInitShape<typeof VisitorActivitySchema>;

/** The width (CSS px) below which a screen is a phone's. */
export const PHONE_MAX_WIDTH = 768;

/**
 * deviceClass tells a phone, a tablet and a desktop apart: a screen whose
 * shorter side is under 768 px is a phone's; a larger one with a coarse
 * (touch) pointer is a tablet's; anything else is a desktop. The screen,
 * not the window, and its shorter side, so that neither a narrow window
 * nor turning a phone sideways changes the answer.
 */
export function deviceClass(w: Pick<Window, "matchMedia" | "screen">): DeviceClass {
  const short = Math.min(w.screen?.width || Infinity, w.screen?.height || Infinity);
  if (short < PHONE_MAX_WIDTH) return DeviceClass.PHONE;
  const coarse = typeof w.matchMedia === "function" && w.matchMedia("(pointer: coarse)").matches;
  return coarse ? DeviceClass.TABLET : DeviceClass.DESKTOP;
}

/** clientInfo is what StartVisitorSession says about the browser (a language tag of at most 35 bytes, as the server takes it). */
export function clientInfo(w: Pick<Window, "matchMedia" | "screen" | "navigator">): ClientInfoInit {
  return { device: deviceClass(w), language: cut(w.navigator?.language ?? "", 35) };
}

/**
 * referrer is document.referrer as the server takes it: an http(s) URL of
 * at most 2048 bytes (a longer one loses its query, then its path); ""
 * when there is none or it is something else (about:, a file).
 */
export function referrer(ref: string): string {
  let u: URL;
  try {
    u = new URL(ref);
  } catch {
    return "";
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return "";
  const enc = new TextEncoder();
  for (const s of [u.href, u.origin + u.pathname, u.origin + "/"]) if (enc.encode(s).length <= 2048) return s;
  return "";
}

/** scrollPercent is how far down the page the bottom of the viewport is, 0 to 100. */
export function scrollPercent(doc: Document, w: Pick<Window, "scrollY" | "innerHeight">): number {
  const el = doc.documentElement;
  const height = Math.max(el?.scrollHeight ?? 0, doc.body?.scrollHeight ?? 0);
  if (height <= 0) return 0;
  const seen = w.scrollY + w.innerHeight;
  return Math.max(0, Math.min(100, Math.floor((100 * seen) / height)));
}

/** The least time between two reports, but for exit intent, which goes at once. */
export const REPORT_EVERY_MS = 5000;
/** Scroll depth is reported when it grows by this many points (or reaches the bottom). */
export const SCROLL_STEP = 5;

/**
 * The visitor's own input. Scrolling is among it through what scrolls (the
 * wheel, touch, keys, the scrollbar's pointer): a scroll event alone may be
 * the page scrolling itself, and only deepens the depth.
 */
const inputs = ["pointerdown", "pointermove", "keydown", "wheel", "touchstart", "touchmove"] as const;

export interface ActivityOptions {
  /** Sends one report for the page at pageUrl; failures are the caller's to swallow. */
  send(activity: ActivityInit, pageUrl: string): Promise<unknown>;
  /** The current page's URL, as reported with the page view. */
  pageUrl(): string;
  /** Exit intent is a desktop's: a phone or tablet has no pointer to leave with. */
  desktop: boolean;
  win?: Window;
  doc?: Document;
}

/**
 * ActivityTracker watches the page and reports what the visitor does on
 * it: the deepest they scrolled (when it grew by 5 points or more), exit
 * intent (the pointer left the viewport through its top edge, toward the
 * browser's bar: once per page, at once), and that they interacted
 * (pointer, keys, wheel, touch) — at most every 5 s, and only while they
 * do, so the server can tell an idle visitor. Its listeners are
 * passive and only set flags; stop removes them and any pending report.
 */
export class ActivityTracker {
  private readonly win: Window;
  private readonly doc: Document;
  private url = "";
  private maxScroll = 0;
  private reportedScroll = 0;
  private exit = false;
  private exitReported = false;
  private interacted = false;
  private lastSent = -Infinity;
  private timer?: ReturnType<typeof setTimeout>;
  private running = false;

  constructor(private readonly opts: ActivityOptions) {
    this.win = opts.win ?? window;
    this.doc = opts.doc ?? document;
  }

  /** start begins watching the current page. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.url = this.opts.pageUrl();
    for (const t of inputs) this.win.addEventListener(t, this.onInput, { passive: true, capture: true });
    this.win.addEventListener("scroll", this.onScroll, { passive: true });
    if (this.opts.desktop) this.doc.addEventListener("mouseout", this.onMouseOut, { passive: true });
    // Scrolled already (before the stream opened, or a reload the browser
    // restored mid-page): that depth counts.
    if (this.win.scrollY > 0) this.onScroll();
  }

  /** stop removes the listeners and drops what was not reported yet. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    for (const t of inputs) this.win.removeEventListener(t, this.onInput, { capture: true });
    this.win.removeEventListener("scroll", this.onScroll);
    this.doc.removeEventListener("mouseout", this.onMouseOut);
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * newPage starts over on another page (a single-page app changed its URL
   * without loading): depth and exit intent are the current page's. What
   * was pending for the old page is dropped; the server ignores it anyway.
   */
  newPage(): void {
    this.url = this.opts.pageUrl();
    this.maxScroll = 0;
    this.reportedScroll = 0;
    this.exit = false;
    this.exitReported = false;
    this.interacted = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * resend says the page's depth and exit intent again (the server forgot
   * them: its stream was reconnected, to a restarted server, say), within
   * the same 5 s limit.
   */
  resend(): void {
    if (this.maxScroll === 0 && !this.exit) return;
    this.reportedScroll = 0;
    this.exitReported = false;
    this.schedule();
  }

  private readonly onInput = () => {
    if (this.interacted) return;
    this.interacted = true;
    this.schedule();
  };

  private readonly onScroll = () => {
    const pct = scrollPercent(this.doc, this.win);
    if (pct <= this.maxScroll) return;
    this.maxScroll = pct;
    if (this.scrollChanged()) this.schedule();
  };

  private readonly onMouseOut = (e: MouseEvent) => {
    if (e.relatedTarget || e.clientY > 0 || this.exit) return;
    this.exit = true;
    this.flush();
  };

  private scrollChanged(): boolean {
    const grown = this.maxScroll - this.reportedScroll;
    return grown >= SCROLL_STEP || (this.maxScroll === 100 && grown > 0);
  }

  private changed(): boolean {
    return this.interacted || this.scrollChanged() || (this.exit && !this.exitReported);
  }

  /** schedule sends now if the last report is 5 s old, else once it is. */
  private schedule(): void {
    if (!this.running || this.timer) return;
    const wait = this.lastSent + REPORT_EVERY_MS - Date.now();
    if (wait <= 0) this.flush();
    else this.timer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.running || !this.changed()) return;
    // Depth is reported as reached, not as last seen; exit intent stays
    // said for the rest of the page.
    const activity: ActivityInit = { scrollPercent: this.maxScroll, exitIntent: this.exit, interacted: this.interacted };
    this.reportedScroll = this.maxScroll;
    this.exitReported = this.exit;
    this.interacted = false;
    this.lastSent = Date.now();
    this.opts.send(activity, this.url).catch(() => {
      // Presence, not a record: the next report says it again (depth and
      // exit intent are cumulative), and a rate limit only delays it.
    });
  }
}
