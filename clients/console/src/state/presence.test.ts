import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import type { WatchPresenceResponse } from "../../../gen/proactivechat/v1/agent_service_pb";
import { WatchPresenceResponseSchema } from "../../../gen/proactivechat/v1/agent_service_pb";
import { VisitorPresenceSchema } from "../../../gen/proactivechat/v1/visitor_pb";
import { initialPresenceView, presenceReducer, sortedVisitors, timeOnSiteMs } from "./presence";

const p = (id: string, start: number, extra: object = {}) =>
  create(VisitorPresenceSchema, { visitorId: id, siteId: "s", visitStartTime: timestampFromMs(start), ...extra });
const ev = (event: WatchPresenceResponse["event"]) => create(WatchPresenceResponseSchema, { event } as never);

describe("presenceReducer", () => {
  it("applies snapshot, arrivals, changes and departures", () => {
    let s = presenceReducer(initialPresenceView, { type: "event", event: ev({ case: "snapshot", value: { visitors: [p("b", 2000), p("a", 1000)] } } as never), now: 10 });
    expect(s.ready).toBe(true);
    expect(sortedVisitors(s).map((e) => e.presence.visitorId)).toEqual(["a", "b"]);
    s = presenceReducer(s, { type: "event", event: ev({ case: "arrived", value: p("c", 500) } as never), now: 20 });
    s = presenceReducer(s, { type: "event", event: ev({ case: "changed", value: p("a", 1000, { currentPage: { url: "https://x/2" } }) } as never), now: 30 });
    expect(s.visitors.a.presence.currentPage?.url).toBe("https://x/2");
    expect(s.visitors.a.receivedAt).toBe(30);
    s = presenceReducer(s, { type: "event", event: ev({ case: "departed", value: p("b", 2000) } as never), now: 40 });
    expect(sortedVisitors(s).map((e) => e.presence.visitorId)).toEqual(["c", "a"]);
    const again = presenceReducer(s, { type: "event", event: ev({ case: "departed", value: p("zz", 0) } as never), now: 50 });
    expect(again).toBe(s);
    // A reconnect's snapshot replaces everything.
    s = presenceReducer(s, { type: "event", event: ev({ case: "snapshot", value: { visitors: [] } } as never), now: 60 });
    expect(s.visitors).toEqual({});
  });
});

describe("timeOnSiteMs", () => {
  it("ticks from the server's figure by local time since it arrived", () => {
    const entry = {
      presence: p("a", 0, { timeOnSite: durationFromMs(42_000), observeTime: timestampFromMs(99_999_999) }),
      receivedAt: 1_000,
    };
    expect(timeOnSiteMs(entry, 1_000)).toBe(42_000);
    expect(timeOnSiteMs(entry, 4_500)).toBe(45_500);
  });
  it("falls back to the visit start on the server's clock", () => {
    const entry = { presence: p("a", 10_000), receivedAt: 0 };
    expect(timeOnSiteMs(entry, 0, 70_000)).toBe(60_000);
    expect(timeOnSiteMs(entry, 0, 5_000)).toBe(0);
  });
});
