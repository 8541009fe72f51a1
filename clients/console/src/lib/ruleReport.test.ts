import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { SiteSchema } from "../../../gen/proactivechat/v1/site_pb";
import { TriggerRuleReportSchema } from "../../../gen/proactivechat/v1/targeting_pb";
import { ruleReportRows } from "./ruleReport";

const rules = create(SiteSchema, {
  proactiveChat: {
    rules: [
      { id: "rule_cart", name: "Big cart", variants: [{ id: "var_a", name: "A" }, { id: "var_b", name: "B" }] },
      { id: "rule_docs", name: "Docs readers" },
    ],
  },
}).proactiveChat!.rules;

describe("ruleReportRows", () => {
  it("lists the rules in their order with their variants as sub-rows, then deleted ones", () => {
    const report = create(TriggerRuleReportSchema, {
      rules: [
        { ruleId: "rule_old", matched: 4n, invited: 4n },
        { ruleId: "rule_cart", matched: 200n, heldOut: 20n, invited: 180n, accepted: 45n, formsSubmitted: 40n, queued: 40n, chatted: 36n, rated: 9n, heldOutChatted: 2n },
        { ruleId: "rule_cart", variantId: "var_b", matched: 95n, invited: 95n, chatted: 24n },
        { ruleId: "rule_cart", variantId: "var_a", matched: 85n, invited: 85n, chatted: 12n },
        { ruleId: "rule_cart", variantId: "var_gone", matched: 1n },
      ],
    });
    const rows = ruleReportRows(report, rules);
    expect(rows.map((r) => [r.ruleId, r.variantId, r.label])).toEqual([
      ["rule_cart", "", "Big cart"],
      ["rule_cart", "var_a", "Variant A"],
      ["rule_cart", "var_b", "Variant B"],
      ["rule_cart", "var_gone", "Deleted variant (var_gone)"],
      ["rule_docs", "", "Docs readers"],
      ["rule_old", "", "Deleted rule (rule_old)"],
    ]);
    const cart = rows[0];
    expect(cart.counts).toEqual({ matched: 200, heldOut: 20, invited: 180, accepted: 45, formsSubmitted: 40, queued: 40, chatted: 36, rated: 9 });
    expect(cart.heldOutChatted).toBe(2);
    // 36 chats of 180 approached against 2 of the 20 held out.
    expect(cart.chatRatePct).toBe(20);
    expect(cart.controlChatRatePct).toBe(10);
    expect(cart.widthPct.matched).toBe(100);
    expect(cart.widthPct.invited).toBe(90);
    expect(rows[2].chatRatePct).toBe(25.3);
    expect(rows[2].controlChatRatePct).toBeUndefined();
    // A rule that counted nothing: zeros, no rates.
    expect(rows[4].counts.matched).toBe(0);
    expect(rows[4].chatRatePct).toBeUndefined();
    expect(rows[4].widthPct.matched).toBe(0);
  });

  it("shows the site's rules with zeros before any report arrives", () => {
    expect(ruleReportRows(undefined, rules).map((r) => r.label)).toEqual(["Big cart", "Variant A", "Variant B", "Docs readers"]);
  });
});
