import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  AttributeOperator,
  BusinessHoursCondition,
  DeviceClass,
  FormFieldType,
  ProactiveChatMode,
  SiteSchema,
  VisitorRecency,
} from "../../../gen/proactivechat/v1/site_pb";
import { buildRulesUpdate, duplicateRule, emptyRule, moveRule, previewRule, ruleIndexOf, rulesDraftFromSite } from "./rules";

const site = create(SiteSchema, {
  id: "site_1",
  name: "Shop",
  proactiveChat: {
    enabled: true,
    caps: { maxPerDay: 3 },
    rules: [
      {
        id: "rule_cart",
        name: "Big cart",
        enabled: true,
        mode: ProactiveChatMode.WITH_INVITE,
        inviteText: "Questions about your order?",
        formFields: [{ key: "email", label: "E-mail", type: FormFieldType.EMAIL, required: true }],
        conditions: {
          minSecondsOnPage: 20,
          includePages: ["https://shop.example/cart*"],
          attributes: [{ key: "cart_value", operator: AttributeOperator.GREATER_THAN, value: "100" }],
          devices: [DeviceClass.DESKTOP, DeviceClass.TABLET],
          languages: ["de", "en"],
          exitIntent: true,
          businessHours: BusinessHoursCondition.OPEN,
        },
        caps: { maxPerVisit: 1 },
        holdoutPercent: 10,
        variants: [
          { id: "var_a", name: "A", inviteText: "Need help?", weight: 50 },
          { id: "var_b", name: "B", inviteText: "Free shipping today!", weight: 50 },
        ],
      },
      { id: "rule_docs", name: "Docs readers", enabled: false, mode: ProactiveChatMode.WITHOUT_INVITE, conditions: { minScrollPercent: 80 } },
    ],
  },
});

describe("the trigger rules draft", () => {
  const original = rulesDraftFromSite(site);

  it("reads every setting of a rule, and saving it unchanged sends nothing", () => {
    const r = original.rules[0];
    expect(r).toMatchObject({
      id: "rule_cart",
      holdoutPercent: "10",
      caps: { maxPerVisit: "1", maxPerDay: "", maxEver: "", suppressAfterDeclineSeconds: "" },
      conditions: {
        minSecondsOnPage: "20",
        minSecondsOnSite: "",
        includePages: "https://shop.example/cart*",
        languages: "de, en",
        exitIntent: true,
        devices: [DeviceClass.DESKTOP, DeviceClass.TABLET],
      },
    });
    expect(r.variants.map((v) => [v.id, v.weight])).toEqual([
      ["var_a", "50"],
      ["var_b", "50"],
    ]);
    expect(original.caps.maxPerDay).toBe("3");
    const b = buildRulesUpdate(site.id, original, rulesDraftFromSite(site));
    expect(b.paths).toEqual([]);
    expect(b.request).toBeUndefined();
  });

  it("saves the rules in their new order under proactive_chat.rules alone, ids kept", () => {
    const rules = moveRule(original.rules, 1, -1);
    rules[0] = { ...rules[0], enabled: true, conditions: { ...rules[0].conditions, minScrollPercent: " 60 ", recency: VisitorRecency.RETURNING } };
    const b = buildRulesUpdate(site.id, original, { ...original, rules });
    expect(b.errors).toEqual({});
    expect(b.request?.updateMask?.paths).toEqual(["proactive_chat.rules"]);
    const pc = b.request!.site!.proactiveChat!;
    expect(b.request!.site!.id).toBe("site_1");
    // Nothing else of the site goes: an update names only what it changes.
    expect(b.request!.site!.name).toBe("");
    expect(pc.enabled).toBe(false);
    expect(pc.rules.map((r) => [r.id, r.enabled])).toEqual([
      ["rule_docs", true],
      ["rule_cart", true],
    ]);
    expect(pc.rules[0].conditions).toMatchObject({ minScrollPercent: 60, recency: VisitorRecency.RETURNING });
    const cart = pc.rules[1];
    expect(cart.conditions).toMatchObject({
      minSecondsOnPage: 20,
      includePages: ["https://shop.example/cart*"],
      languages: ["de", "en"],
      exitIntent: true,
      businessHours: BusinessHoursCondition.OPEN,
    });
    expect(cart.conditions?.attributes.map((a) => [a.key, a.operator, a.value])).toEqual([["cart_value", AttributeOperator.GREATER_THAN, "100"]]);
    expect(cart.variants.map((v) => [v.id, v.name, v.weight])).toEqual([
      ["var_a", "A", 50],
      ["var_b", "B", 50],
    ]);
    expect(cart.formFields.map((f) => f.key)).toEqual(["email"]);
    expect(cart.holdoutPercent).toBe(10);
    expect(cart.caps?.maxPerVisit).toBe(1);
  });

  it("saves the site-wide caps under their own path", () => {
    const b = buildRulesUpdate(site.id, original, { ...original, caps: { ...original.caps, maxEver: "5" } });
    expect(b.request?.updateMask?.paths).toEqual(["proactive_chat.caps"]);
    expect(b.request?.site?.proactiveChat?.caps).toMatchObject({ maxPerDay: 3, maxEver: 5 });
  });

  it("names what is wrong by the server's field paths before sending", () => {
    const rules = [...original.rules, emptyRule("Big cart")];
    rules[1] = {
      ...rules[1],
      holdoutPercent: "60",
      caps: { ...rules[1].caps, maxPerDay: "x" },
      conditions: { ...rules[1].conditions, minScrollPercent: "150", minIdleSeconds: "1.5" },
    };
    rules[0] = { ...rules[0], variants: [{ ...rules[0].variants[0], weight: "0" }] };
    const b = buildRulesUpdate(site.id, original, { ...original, rules, caps: { ...original.caps, maxPerVisit: "-1" } });
    expect(b.request).toBeUndefined();
    expect(b.errors).toEqual({
      "proactive_chat.rules[0].variants[0].weight": "must be from 1 to 100",
      "proactive_chat.rules[1].conditions.min_scroll_percent": "must be from 1 to 100",
      "proactive_chat.rules[1].conditions.min_idle_seconds": "must be a whole number, 0 or more",
      "proactive_chat.rules[1].caps.max_per_day": "must be a whole number, 0 or more",
      "proactive_chat.rules[1].holdout_percent": "must be from 0 to 50",
      "proactive_chat.rules[2].name": "is the name of rule 1 too",
      "proactive_chat.caps.max_per_visit": "must be a whole number, 0 or more",
    });
    expect(ruleIndexOf("proactive_chat.rules[12].conditions.utm[0].value")).toBe(12);
    expect(ruleIndexOf("proactive_chat.caps.max_ever")).toBeUndefined();
  });

  it("moves a rule within the list only", () => {
    const [a, b] = original.rules;
    expect(moveRule(original.rules, 0, 1)).toEqual([b, a]);
    expect(moveRule(original.rules, 0, -1)).toBe(original.rules);
    expect(moveRule(original.rules, 1, 1)).toBe(original.rules);
  });

  it("duplicates a rule as a new one, off, with a free name and no ids", () => {
    const copy = duplicateRule(original.rules[0], ["Big cart", "Big cart (copy)"]);
    expect(copy).toMatchObject({ id: "", name: "Big cart (copy 2)", enabled: false });
    expect(copy.key).not.toBe(original.rules[0].key);
    expect(copy.variants.map((v) => v.id)).toEqual(["", ""]);
    expect(copy.conditions).toEqual(original.rules[0].conditions);
    expect(copy.conditions).not.toBe(original.rules[0].conditions);
  });

  it("previews one rule as edited, its errors under rule.", () => {
    const r = { ...original.rules[1], conditions: { ...original.rules[1].conditions, minSecondsOnSite: "abc" } };
    expect(previewRule(r).errors).toEqual({ "rule.conditions.min_seconds_on_site": "must be a whole number, 0 or more" });
    expect(previewRule(original.rules[1]).rule).toMatchObject({ id: "rule_docs", conditions: { minScrollPercent: 80 } });
  });
});
