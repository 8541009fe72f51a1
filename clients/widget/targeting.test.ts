// @vitest-environment jsdom
// The widget's part in the trigger rules, through its calls: ClientInfo
// with StartVisitorSession, the referrer with the page, activity reports
// as the visitor (until the widget is torn down), and the page's
// ProactiveChat("set"/"unset") as UpdateVisitorAttributes, queued until
// the session exists and in order with identify.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { DeviceClass } from "../gen/proactivechat/v1/site_pb";
import { EngagementState } from "../gen/proactivechat/v1/visitor_pb";
import { VisitorService } from "../gen/proactivechat/v1/visitor_service_pb";
import { installPageAPI, toAttributeChange, type PageAPI } from "./identity";
import { bearer, clients, Widget, type Auth } from "./widget";

function fakeServer() {
  const log: string[] = [];
  const drops: (() => void)[] = [];
  /** While set, a stream opened waits for it before its first state. */
  let hold: Promise<void> | undefined;
  const transport = (auth: Auth) =>
    createRouterTransport(
      ({ service }) => {
        service(VisitorService, {
          startVisitorSession(req) {
            log.push(`start device=${DeviceClass[req.clientInfo?.device ?? 0]} language=${req.clientInfo?.language}`);
            return { visitor: { id: "visitor_1" }, token: "pcv_1" };
          },
          async *watchVisitor(req, ctx) {
            log.push(`watch ${req.pageUrl} referrer=${req.pageReferrer}`);
            await hold;
            yield { event: { case: "state", value: { engagement: EngagementState.BROWSING } } };
            await new Promise<void>((_, reject) => {
              ctx.signal.addEventListener("abort", () => reject(new ConnectError("closed", Code.Canceled)));
              drops.push(() => reject(new ConnectError("the server is restarting", Code.Unavailable)));
            });
          },
          reportPageView(req) {
            log.push(`page ${req.url} referrer=${req.referrer}`);
            return {};
          },
          reportActivity(req, ctx) {
            const a = req.activity;
            log.push(
              `activity ${req.pageUrl} scroll=${a?.scrollPercent} exit=${a?.exitIntent} interacted=${a?.interacted} auth=${ctx.requestHeader.get("Authorization")}`,
            );
            return {};
          },
          identifyVisitor(req) {
            log.push(`identify ${req.identity?.name}`);
            return { visitor: { id: req.visitorId } };
          },
          updateVisitorAttributes(req, ctx) {
            const set = Object.entries(req.set)
              .sort()
              .map(([k, v]) => `${k}=${v}`)
              .join(",");
            log.push(`attributes ${req.visitorId} set=${set} remove=${[...req.remove].sort().join(",")} auth=${ctx.requestHeader.get("Authorization")}`);
            if (req.set.bad !== undefined) throw new ConnectError("set: bad", Code.InvalidArgument);
            return { visitor: { id: req.visitorId } };
          },
        });
      },
      { transport: { interceptors: [bearer(auth)] } },
    );
  /** drop ends the open streams as a restarting server does. */
  const drop = () => drops.splice(0).forEach((d) => d());
  return {
    transport,
    log,
    drop,
    /** holdStreams keeps streams from opening until the returned function is called. */
    holdStreams() {
      let release = () => {};
      hold = new Promise<void>((r) => (release = r));
      return () => {
        hold = undefined;
        release();
      };
    },
  };
}

const widgets: Widget[] = [];
beforeEach(() => {
  window.history.replaceState(null, "", "/products/lamp");
  Object.defineProperty(document, "referrer", { value: "https://www.google.com/search?q=lamp", configurable: true });
});
afterEach(() => {
  for (const w of widgets.splice(0)) w.stop();
  vi.useRealTimers();
  vi.restoreAllMocks();
  delete (window as { matchMedia?: unknown }).matchMedia;
  document.body.replaceChildren();
  localStorage.clear();
});

function newWidget(server: ReturnType<typeof fakeServer>) {
  const w = new Widget("site_test", (auth) => clients(server.transport(auth)), undefined);
  widgets.push(w);
  return w;
}

describe("the widget's targeting reports", () => {
  it("says the device and language when the session starts, and the referrer with the page", async () => {
    vi.useFakeTimers();
    window.matchMedia = (q: string) => ({ matches: q === "(pointer: coarse)" }) as MediaQueryList;
    vi.spyOn(window.screen, "width", "get").mockReturnValue(390);
    vi.spyOn(window.screen, "height", "get").mockReturnValue(844);
    vi.spyOn(window.navigator, "language", "get").mockReturnValue("pt-BR");
    const server = fakeServer();
    void newWidget(server).start();
    await vi.waitFor(() => expect(server.log).toContain("watch http://localhost:3000/products/lamp referrer=https://www.google.com/search?q=lamp"));
    expect(server.log[0]).toBe("start device=PHONE language=pt-BR");
    // A single-page app's next page goes with the referrer too.
    window.history.pushState(null, "", "/cart");
    await vi.advanceTimersByTimeAsync(2000);
    expect(server.log).toContain("page http://localhost:3000/cart referrer=https://www.google.com/search?q=lamp");
  });

  it("reports activity as the visitor, for the page being viewed, until the widget is torn down", async () => {
    vi.useFakeTimers();
    const server = fakeServer();
    const w = newWidget(server);
    void w.start();
    await vi.waitFor(() => expect(server.log.some((l) => l.startsWith("watch"))).toBe(true));
    window.dispatchEvent(new Event("keydown"));
    await vi.waitFor(() =>
      expect(server.log.at(-1)).toBe("activity http://localhost:3000/products/lamp scroll=0 exit=false interacted=true auth=Bearer pcv_1"),
    );
    // jsdom has no layout: a desktop, so exit intent counts.
    document.dispatchEvent(new MouseEvent("mouseout", { clientY: -1 }));
    await vi.waitFor(() => expect(server.log.at(-1)).toContain("exit=true interacted=false"));
    // The page changes: reports name the new one.
    window.history.pushState(null, "", "/checkout");
    await vi.advanceTimersByTimeAsync(5000);
    window.dispatchEvent(new Event("pointerdown"));
    await vi.waitFor(() => expect(server.log.at(-1)).toMatch(/^activity http:\/\/localhost:3000\/checkout .*interacted=true/));

    const before = server.log.length;
    w.stop();
    window.dispatchEvent(new Event("pointerdown"));
    document.dispatchEvent(new MouseEvent("mouseout", { clientY: -1 }));
    window.history.pushState(null, "", "/elsewhere");
    await vi.advanceTimersByTimeAsync(20_000);
    expect(server.log.slice(before)).toEqual([]);
    expect(document.body.contains(w.view.host)).toBe(false);
  });

  it("reports nothing before its stream is open, and says depth and exit intent again when the stream reconnects", async () => {
    vi.useFakeTimers();
    const server = fakeServer();
    const w = newWidget(server);
    Object.defineProperty(document.documentElement, "scrollHeight", { value: 4000, configurable: true });
    Object.defineProperty(window, "innerHeight", { value: 1000, configurable: true });
    const release = server.holdStreams();
    void w.start();
    await vi.waitFor(() => expect(server.log.some((l) => l.startsWith("watch"))).toBe(true));
    // The session exists, the stream is not open yet: the visitor is not online to report for.
    window.dispatchEvent(new Event("keydown"));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(server.log.filter((l) => l.startsWith("activity"))).toEqual([]);
    release();
    // Open: what the visitor does now is reported.
    const reports = () => server.log.filter((l) => l.startsWith("activity")).length;
    await vi.waitFor(() => {
      window.dispatchEvent(new Event("keydown"));
      expect(reports()).toBe(1);
    });
    Object.defineProperty(window, "scrollY", { value: 2000, configurable: true });
    window.dispatchEvent(new Event("scroll"));
    document.dispatchEvent(new MouseEvent("mouseout", { clientY: -1 }));
    await vi.waitFor(() => expect(server.log.at(-1)).toContain("scroll=75 exit=true"));
    const before = reports();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(reports()).toBe(before); // nothing new, nothing sent

    server.drop();
    await vi.waitFor(() => expect(server.log.filter((l) => l.startsWith("watch"))).toHaveLength(2));
    await vi.waitFor(() => expect(reports()).toBe(before + 1));
    expect(server.log.at(-1)).toContain("scroll=75 exit=true interacted=false");
    Object.defineProperty(window, "scrollY", { value: 0, configurable: true });
  });

  it("sends the page's attributes once the session exists, then each change, after identify's", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const server = fakeServer();
    const w = newWidget(server);
    // Before the session: kept, merged.
    void w.setAttributes({ set: { cart_value: "120", coupon: "XMAS" }, remove: [] });
    void w.setAttributes({ set: {}, remove: ["coupon"] });
    expect(server.log).toEqual([]);
    void w.start();
    await vi.waitFor(() => expect(server.log).toContain("attributes visitor_1 set=cart_value=120 remove=coupon auth=Bearer pcv_1"));
    expect(server.log.filter((l) => l.startsWith("attributes"))).toHaveLength(1);

    // After: each change at once, in order with identify, which replaces the
    // identity (and so its attributes): the page's changes are sent again.
    const identified = w.identify({ name: "Jane" });
    const changed = w.setAttributes({ set: { cart_value: "80" }, remove: [] });
    await Promise.all([identified, changed]);
    expect(server.log.filter((l) => /^(identify|attributes)/.test(l)).slice(1)).toEqual([
      "identify Jane",
      // Everything the page set, as it is by now.
      "attributes visitor_1 set=cart_value=80 remove=coupon auth=Bearer pcv_1",
      "attributes visitor_1 set=cart_value=80 remove= auth=Bearer pcv_1",
    ]);

    // A refusal is the page's mistake, said on the console.
    await w.setAttributes({ set: { bad: "x" }, remove: [] });
    expect(warn).toHaveBeenCalledWith("proactive chat: the attributes were refused:", "set: bad");
  });
});

describe('ProactiveChat("set") and ("unset")', () => {
  it("become attribute changes: values as text, null removes, queued calls run first", () => {
    expect(toAttributeChange("set", { cart_value: 120, vip: true, plan: "pro", gone: null })).toEqual({
      set: { cart_value: "120", vip: "true", plan: "pro" },
      remove: ["gone"],
    });
    expect(toAttributeChange("unset", ["cart_value", "plan"])).toEqual({ set: {}, remove: ["cart_value", "plan"] });
    expect(toAttributeChange("unset", "plan")).toEqual({ set: {}, remove: ["plan"] });
    expect(toAttributeChange("set", ["cart_value"])).toBeUndefined();
    expect(toAttributeChange("unset", [1])).toBeUndefined();

    const w: PageAPI = {};
    const stub = Object.assign((...c: [string, ...unknown[]]) => void (stub.q ??= []).push(c), {
      q: undefined as unknown as [string, ...unknown[]][],
    });
    w.ProactiveChat = stub;
    w.ProactiveChat("set", { cart_value: 120 });
    const got: string[] = [];
    installPageAPI(w, {
      identify: (i) => got.push(`identify ${i.name}`),
      attributes: (c) => got.push(`set ${JSON.stringify(c.set)} remove ${c.remove.join(",")}`),
    });
    w.ProactiveChat("unset", ["cart_value"]);
    expect(got).toEqual(['set {"cart_value":"120"} remove ', "set {} remove cart_value"]);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    w.ProactiveChat("set", "cart_value");
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('"set" takes an object'));
    expect(got).toHaveLength(2);
  });
});
