import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FunnelSchema } from "../../../gen/proactivechat/v1/admin_service_pb";
import { funnelAside, funnelRows, funnelStartMs } from "./funnel";

function funnel(counts: Record<string, number>) {
  const steps = [
    "visits",
    "launches",
    "invitations_sent",
    "invitations_accepted",
    "invitations_declined",
    "invitations_expired",
    "forms_submitted",
    "queued",
    "alerted",
    "accepted",
    "chats_with_visitor_message",
    "abandoned",
  ];
  return create(FunnelSchema, { steps: steps.map((step) => ({ step, count: BigInt(counts[step] ?? 0) })) });
}

describe("funnelRows", () => {
  it("shows the path with conversions from the step above and bars relative to the largest", () => {
    const rows = funnelRows(
      funnel({
        visits: 200,
        launches: 100,
        invitations_sent: 100,
        invitations_accepted: 25,
        forms_submitted: 20,
        queued: 20,
        accepted: 15,
        chats_with_visitor_message: 12,
        invitations_declined: 50,
      }),
    );
    expect(rows.map((r) => [r.step, r.count, r.conversionPct])).toEqual([
      ["visits", 200, undefined],
      ["launches", 100, 50],
      ["invitations_sent", 100, 100],
      ["invitations_accepted", 25, 25],
      ["forms_submitted", 20, 80],
      ["queued", 20, 100],
      ["accepted", 15, 75],
      ["chats_with_visitor_message", 12, 80],
    ]);
    expect(rows[0].widthPct).toBe(100);
    expect(rows[1].widthPct).toBe(50);
  });

  it("leaves out invitations and forms a site without them never had", () => {
    const rows = funnelRows(funnel({ visits: 10, launches: 4, queued: 4, accepted: 3, chats_with_visitor_message: 1 }));
    expect(rows.map((r) => r.step)).toEqual(["visits", "launches", "queued", "accepted", "chats_with_visitor_message"]);
    expect(rows[2].conversionPct).toBe(100);
  });

  it("has no conversion after a step that counted nothing, and no NaN widths", () => {
    const rows = funnelRows(funnel({}));
    expect(rows.every((r) => r.widthPct === 0 && r.conversionPct === undefined)).toBe(true);
    expect(funnelRows(undefined).map((r) => r.count)).toEqual([0, 0, 0, 0, 0]);
  });
});

describe("funnelAside", () => {
  it("counts the outcomes beside the path", () => {
    expect(funnelAside(funnel({ invitations_expired: 3, abandoned: 2, alerted: 7 })).map((a) => a.count)).toEqual([
      0, 3, 7, 2,
    ]);
  });
});

describe("funnelStartMs", () => {
  it("starts today at local midnight and the others 7 or 30 days back", () => {
    const now = new Date(2026, 11, 7, 15, 30).getTime();
    expect(funnelStartMs("today", now)).toBe(new Date(2026, 11, 7).getTime());
    expect(funnelStartMs("7d", now)).toBe(now - 7 * 86400000);
    expect(funnelStartMs("30d", now)).toBe(now - 30 * 86400000);
  });
});
