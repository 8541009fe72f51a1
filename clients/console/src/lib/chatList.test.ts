import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ChatSchema, ChatState, ParticipantSchema } from "../../../gen/proactivechat/v1/chat_pb";
import { ChatSummarySchema } from "../../../gen/proactivechat/v1/chat_service_pb";
import { listChatsRequest, localDayMs, noFilters, rangeError, visitorLabel } from "./chatList";

describe("listChatsRequest", () => {
  it("asks for every chat without filters", () => {
    const r = listChatsRequest(noFilters);
    expect(r.siteId).toBe("");
    expect(r.state).toBe(ChatState.UNSPECIFIED);
    expect(r.startTimeFrom).toBeUndefined();
    expect(r.startTimeTo).toBeUndefined();
    expect(r.query).toBe("");
    expect(r.pageSize).toBe(50);
  });
  it("maps the site, state and search", () => {
    const r = listChatsRequest({ ...noFilters, siteId: "site_a", state: "ended", query: "  ann@ " });
    expect(r.siteId).toBe("site_a");
    expect(r.state).toBe(ChatState.ENDED);
    expect(r.query).toBe("ann@");
    expect(listChatsRequest({ ...noFilters, state: "active" }).state).toBe(ChatState.ACTIVE);
  });
  it("takes whole local days, the last one included", () => {
    const r = listChatsRequest({ ...noFilters, from: "2026-12-01", to: "2026-12-07" });
    expect(timestampMs(r.startTimeFrom as never)).toBe(new Date(2026, 11, 1).getTime());
    expect(timestampMs(r.startTimeTo as never)).toBe(new Date(2026, 11, 8).getTime());
    const one = listChatsRequest({ ...noFilters, from: "2026-12-31", to: "2026-12-31" });
    expect(timestampMs(one.startTimeTo as never)).toBe(new Date(2027, 0, 1).getTime());
  });
  it("ignores a day it cannot read", () => {
    expect(localDayMs("yesterday")).toBeUndefined();
    expect(listChatsRequest({ ...noFilters, from: "12/01/2026" }).startTimeFrom).toBeUndefined();
  });
});

describe("rangeError", () => {
  it("flags an end before the start", () => {
    expect(rangeError({ ...noFilters, from: "2026-12-07", to: "2026-12-06" })).not.toBe("");
    expect(rangeError({ ...noFilters, from: "2026-12-07", to: "2026-12-07" })).toBe("");
    expect(rangeError({ ...noFilters, to: "2026-12-06" })).toBe("");
  });
});

describe("visitorLabel", () => {
  const summary = (visitorName: string, visitorEmail: string) =>
    create(ChatSummarySchema, {
      visitorName,
      visitorEmail,
      chat: create(ChatSchema, { visitor: create(ParticipantSchema, { id: "visitor_abcdef123" }) }),
    });
  const short = (id: string) => id.slice(-4);
  it("shows what the visitor gave", () => {
    expect(visitorLabel(summary("Ann", "ann@example.com"), short)).toBe("Ann <ann@example.com>");
    expect(visitorLabel(summary("Ann", ""), short)).toBe("Ann");
    expect(visitorLabel(summary("", "ann@example.com"), short)).toBe("ann@example.com");
  });
  it("falls back to the visitor's short id", () => {
    expect(visitorLabel(summary(" ", ""), short)).toBe("Visitor f123");
  });
});
