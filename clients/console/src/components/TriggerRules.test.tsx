// @vitest-environment jsdom
// The trigger rules editor on the admin page, against a fake AdminService:
// reordering keeps focus with the moved rule, saving sends the rules alone,
// the server's field errors land next to their inputs (opening their rule),
// the preview evaluates the unsaved rule, and the report draws each rule's
// funnel with its variants and control group.
import { create, toBinary } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { TransportProvider } from "@connectrpc/connect-query";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act } from "react";
import { createRoot } from "react-dom/client";
import { afterEach, describe, expect, it } from "vitest";
import type { PreviewTriggerRuleRequest, UpdateSiteRequest } from "../../../gen/proactivechat/v1/admin_service_pb";
import { AdminService } from "../../../gen/proactivechat/v1/admin_service_pb";
import type { SiteSchema } from "../../../gen/proactivechat/v1/site_pb";
import { AttributeOperator, DeviceClass, ProactiveChatMode } from "../../../gen/proactivechat/v1/site_pb";
import { AuthProvider } from "../hooks";
import { Auth } from "../lib/auth";
import { BadRequestSchema } from "../lib/errors";
import { RuleReport } from "./RuleReport";
import { TriggerRules } from "./TriggerRules";
import { create as createMsg } from "@bufbuild/protobuf";
import { SiteSchema as SiteDesc } from "../../../gen/proactivechat/v1/site_pb";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const siteInit: MessageInitShape<typeof SiteSchema> = {
  id: "site_1",
  name: "Shop",
  proactiveChat: {
    enabled: true,
    rules: [
      {
        id: "rule_cart",
        name: "Big cart",
        enabled: true,
        mode: ProactiveChatMode.WITH_INVITE,
        inviteText: "Questions about your order?",
        conditions: { minSecondsOnPage: 20 },
        holdoutPercent: 10,
        variants: [
          { id: "var_a", name: "A", inviteText: "Need help?", weight: 50 },
          { id: "var_b", name: "B", inviteText: "Free shipping today!", weight: 50 },
        ],
      },
      { id: "rule_docs", name: "Docs readers", enabled: false, mode: ProactiveChatMode.WITHOUT_INVITE, conditions: { minScrollPercent: 80 } },
    ],
  },
};

function badRequest(violations: { field: string; description: string }[]): ConnectError {
  const detail = create(BadRequestSchema, { fieldViolations: violations } as never);
  const err = new ConnectError("invalid rules", Code.InvalidArgument);
  err.details = [{ type: "google.rpc.BadRequest", value: toBinary(BadRequestSchema, detail) }];
  return err;
}

function fakeServer() {
  const updates: UpdateSiteRequest[] = [];
  const previews: PreviewTriggerRuleRequest[] = [];
  let refuse: ConnectError | undefined;
  const transport = createRouterTransport(({ service }) => {
    service(AdminService, {
      updateSite: (req) => {
        updates.push(req);
        if (refuse) throw refuse;
        const site = createMsg(SiteDesc, siteInit);
        site.proactiveChat!.rules = req.site!.proactiveChat!.rules.map((r, i) => ({ ...r, id: r.id || `rule_new${i}` }));
        return { site };
      },
      previewTriggerRule: (req) => {
        previews.push(req);
        const min = req.rule?.conditions?.minScrollPercent ?? 0;
        const visitor = (id: string, name: string, scroll: number) => ({
          visitorId: id,
          identity: { name },
          currentPage: { url: "https://shop.example/docs/a", title: "Docs A" },
          _scroll: scroll,
        });
        const ann = visitor("visitor_ann", "Ann", 90);
        const bo = visitor("visitor_bo", "Bo", 30);
        const cy = visitor("visitor_cy", "Cy", 95);
        const evaluate = (v: ReturnType<typeof visitor>) => ({
          visitor: { visitorId: v.visitorId, identity: v.identity, currentPage: v.currentPage },
          matches: v._scroll >= min,
          failedConditions: v._scroll >= min ? [] : [`min_scroll_percent: ${v._scroll} % of ${min} %`],
          cappedBy: v.visitorId === "visitor_cy" ? "max_per_visit: 1 of 1" : "",
        });
        return { evaluations: [ann, bo, cy].map(evaluate), onlineVisitors: 3 };
      },
      getTriggerRuleReport: () => ({
        report: {
          siteId: "site_1",
          rules: [
            { ruleId: "rule_cart", matched: 200n, heldOut: 20n, invited: 180n, accepted: 45n, formsSubmitted: 40n, queued: 40n, chatted: 36n, rated: 9n, heldOutChatted: 2n },
            { ruleId: "rule_cart", variantId: "var_a", matched: 85n, invited: 85n, chatted: 12n },
            { ruleId: "rule_cart", variantId: "var_b", matched: 95n, invited: 95n, chatted: 24n },
          ],
          predictedWait: { seconds: 45n },
        },
      }),
    });
  });
  return {
    transport,
    updates,
    previews,
    refuseWith(err?: ConnectError) {
      refuse = err;
    },
  };
}

let cleanup: (() => void) | undefined;
afterEach(() => {
  cleanup?.();
  cleanup = undefined;
});

function memory() {
  const data = new Map<string, string>();
  return { getItem: (k: string) => data.get(k) ?? null, setItem: (k: string, v: string) => void data.set(k, v), removeItem: (k: string) => void data.delete(k) };
}

async function mount(what: "editor" | "report" = "editor") {
  const server = fakeServer();
  const auth = new Auth(memory(), () => 0);
  auth.setAdminKey("pca_good");
  const el = document.createElement("div");
  document.body.append(el);
  const root = createRoot(el);
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  cleanup = () => {
    act(() => root.unmount());
    el.remove();
  };
  const site = createMsg(SiteDesc, siteInit);
  await act(async () => {
    root.render(
      <AuthProvider auth={auth}>
        <TransportProvider transport={server.transport}>
          <QueryClientProvider client={queryClient}>
            {what === "editor" ? <TriggerRules site={site} /> : <RuleReport siteId="site_1" rules={site.proactiveChat!.rules} />}
          </QueryClientProvider>
        </TransportProvider>
      </AuthProvider>,
    );
  });
  const $ = <T extends HTMLElement = HTMLElement>(sel: string, from: ParentNode = el) => from.querySelector(sel) as T | null;
  const all = (sel: string, from: ParentNode = el) => [...from.querySelectorAll(sel)] as HTMLElement[];
  const rule = (i: number) => all('[data-testid="rule"]')[i];
  const inRule = <T extends HTMLElement = HTMLInputElement>(i: number, testId: string) => $<T>(`[data-testid="${testId}"]`, rule(i))!;
  return { server, el, $, all, rule, inRule };
}

async function until(cond: () => boolean, what: string) {
  for (let i = 0; i < 300; i++) {
    if (cond()) return;
    await act(async () => {
      await new Promise((r) => setTimeout(r, 10));
    });
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function type(input: Element | null, value: string) {
  const el = input as HTMLInputElement | HTMLTextAreaElement;
  const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  await act(async () => {
    Object.getOwnPropertyDescriptor(proto, "value")!.set!.call(el, value);
    el.dispatchEvent(new Event("input", { bubbles: true }));
  });
}

async function choose(select: Element | null, value: number) {
  const el = select as HTMLSelectElement;
  await act(async () => {
    el.value = String(value);
    el.dispatchEvent(new Event("change", { bubbles: true }));
  });
}

async function click(el: Element | null) {
  await act(async () => {
    (el as HTMLElement).focus();
    (el as HTMLElement).click();
  });
}

const names = (all: (s: string) => HTMLElement[]) => all('[data-testid="rule"] h4').map((h) => h.textContent);

describe("The trigger rules editor", () => {
  it("reorders, adds, duplicates and deletes rules, keeping focus with the rule moved, and saves the rules alone", async () => {
    const { server, $, all, rule, inRule } = await mount();
    expect(names(all)).toEqual(["1. Big cart", "2. Docs readers"]);
    const save = $<HTMLButtonElement>('[data-testid="rules-save"]')!;
    expect(save.disabled).toBe(true);

    // Move "Docs readers" up: it is first now, and focus stays on it (its
    // up button is disabled at the top, so its down button).
    await click(inRule(1, "rule-up"));
    expect(names(all)).toEqual(["1. Docs readers", "2. Big cart"]);
    expect(document.activeElement).toBe(inRule(0, "rule-down"));
    expect($('[data-testid="rules-announce"]')!.textContent).toBe("Rule Docs readers moved to place 1 of 2.");

    // Turn it on, open it, and give it conditions of several kinds.
    await click(inRule(0, "rule-enabled"));
    await click(inRule(0, "rule-toggle"));
    expect(inRule(0, "rule-toggle").getAttribute("aria-expanded")).toBe("true");
    await type(inRule(0, "cond-min_scroll_percent"), "60");
    await click(inRule(0, "cond-exit_intent"));
    await click(inRule(0, `cond-device-${DeviceClass.DESKTOP}`));
    await click(inRule(0, "attribute-add"));
    await type(inRule(0, "attribute-key"), "cart_value");
    await choose(inRule(0, "attribute-operator"), AttributeOperator.GREATER_THAN);
    await type(inRule(0, "attribute-value"), "100");

    // Duplicate "Big cart" (the copy is off, right after it), add one, delete the copy.
    await click(inRule(1, "rule-duplicate"));
    expect(names(all)).toEqual(["1. Docs readers", "2. Big cart", "3. Big cart (copy)"]);
    expect(inRule(2, "rule-enabled").checked).toBe(false);
    expect(document.activeElement).toBe(inRule(2, "rule-name"));
    await click($('[data-testid="rule-add"]'));
    expect(names(all)).toEqual(["1. Docs readers", "2. Big cart", "3. Big cart (copy)", "4. Rule 4"]);
    await type(inRule(3, "rule-name"), "Returning readers");
    await type(inRule(3, "rule-invite-text"), "Welcome back!");
    await click(inRule(2, "rule-delete"));
    expect(names(all)).toEqual(["1. Docs readers", "2. Big cart", "3. Returning readers"]);
    expect(document.activeElement).toBe(inRule(2, "rule-toggle"));

    expect(save.disabled).toBe(false);
    await click(save);
    await until(() => !!$('[data-testid="rules-saved"]'), "Saved");
    expect(server.updates).toHaveLength(1);
    const req = server.updates[0];
    expect(req.updateMask?.paths).toEqual(["proactive_chat.rules"]);
    expect(req.site?.name).toBe("");
    const rules = req.site!.proactiveChat!.rules;
    expect(rules.map((r) => [r.id, r.name, r.enabled])).toEqual([
      ["rule_docs", "Docs readers", true],
      ["rule_cart", "Big cart", true],
      ["", "Returning readers", true],
    ]);
    expect(rules[0].conditions).toMatchObject({ minScrollPercent: 60, exitIntent: true, devices: [DeviceClass.DESKTOP] });
    expect(rules[0].conditions?.attributes.map((a) => [a.key, a.operator, a.value])).toEqual([["cart_value", AttributeOperator.GREATER_THAN, "100"]]);
    expect(rules[1].variants.map((v) => v.id)).toEqual(["var_a", "var_b"]);
    expect(rules[2]).toMatchObject({ mode: ProactiveChatMode.WITH_INVITE, inviteText: "Welcome back!" });
    // The saved rules are the new starting point: nothing left to save.
    expect(save.disabled).toBe(true);
  });

  it("shows the server's field errors next to their inputs, opening the rule they are in", async () => {
    const { server, $, rule, inRule } = await mount();
    server.refuseWith(
      badRequest([
        { field: "proactive_chat.rules[1].conditions.min_scroll_percent", description: "must be at most 100" },
        { field: "proactive_chat.rules[0].variants[1].weight", description: "must be from 1 to 100" },
        { field: "proactive_chat.caps.max_per_day", description: "must be at least max_per_visit" },
        { field: "proactive_chat.rules[1].conditions.include_pages[0]", description: "is not a valid glob" },
        { field: "proactive_chat.rules[1].future_setting", description: "is not understood" },
      ]),
    );
    await type($('[data-testid="site-caps"] input'), "2");
    expect(rule(1).querySelector('[data-testid="cond-min_scroll_percent"]')).toBeNull(); // closed
    await click($('[data-testid="rules-save"]'));
    await until(() => !!$('[data-testid="rules-error"]'), "the errors");

    // The rules with errors open; each error is beside its input, which says it is invalid.
    const scroll = inRule(1, "cond-min_scroll_percent");
    expect(scroll.getAttribute("aria-invalid")).toBe("true");
    const scrollErr = document.getElementById(scroll.getAttribute("aria-describedby")!)!;
    expect(scrollErr.textContent).toBe("must be at most 100");
    expect(scroll.closest(".field")!.contains(scrollErr)).toBe(true);
    const weight = rule(0).querySelectorAll<HTMLInputElement>('[data-testid="variant-weight"]')[1];
    expect(weight.getAttribute("aria-invalid")).toBe("true");
    expect(weight.closest(".field")!.textContent).toContain("must be from 1 to 100");
    const day = $<HTMLInputElement>('[data-path="proactive_chat.caps.max_per_day"]')!;
    expect(day.closest(".field")!.textContent).toContain("must be at least max_per_visit");
    const include = rule(1).querySelector('[data-path="proactive_chat.rules[1].conditions.include_pages"]')!;
    expect(include.getAttribute("aria-invalid")).toBe("true");
    expect(include.closest(".field")!.textContent).toContain("is not a valid glob");
    expect(rule(1).textContent).toContain("has errors");
    // What has no input of its own is listed in the summary.
    expect($('[data-testid="rules-error"]')!.textContent).toContain("proactive_chat.rules[1].future_setting: is not understood");
    expect($('[data-testid="rules-error"]')!.textContent).not.toContain("min_scroll_percent");
  });

  it("catches what the server would refuse before sending", async () => {
    const { server, $, inRule } = await mount();
    await click(inRule(0, "rule-toggle"));
    await type(inRule(0, "cond-min_scroll_percent"), "150");
    await type(inRule(0, "rule-holdout"), "80");
    await click($('[data-testid="rules-save"]'));
    expect(server.updates).toEqual([]);
    expect(inRule(0, "cond-min_scroll_percent").closest(".field")!.textContent).toContain("must be from 1 to 100");
    expect(inRule(0, "rule-holdout").closest(".field")!.textContent).toContain("must be from 0 to 50");
  });

  it("previews the rule as edited, unsaved: who matches, and what fails for the others", async () => {
    const { server, inRule, rule } = await mount();
    await click(inRule(1, "rule-toggle"));
    expect(server.previews).toEqual([]); // nothing until asked
    await click(inRule(1, "rule-preview-toggle"));
    await until(() => rule(1).querySelectorAll('[data-testid="preview-row"]').length === 3, "the preview");
    expect(server.previews[0].siteId).toBe("site_1");
    expect(server.previews[0].rule?.id).toBe("rule_docs");
    expect(server.previews[0].rule?.conditions?.minScrollPercent).toBe(80);
    const rows = () => [...rule(1).querySelectorAll<HTMLElement>('[data-testid="preview-row"]')];
    expect(rows().map((r) => [r.dataset.visitorId, r.dataset.matches])).toEqual([
      ["visitor_ann", "true"],
      ["visitor_bo", "false"],
      ["visitor_cy", "false"],
    ]);
    expect(rows()[0].textContent).toContain("Ann");
    expect(rows()[1].querySelector('[data-testid="preview-failed"]')!.textContent).toBe("min_scroll_percent: 30 % of 80 %");
    expect(rows()[2].querySelector('[data-testid="preview-capped"]')!.textContent).toBe("Matches, but capped: max_per_visit: 1 of 1");
    expect(rule(1).querySelector('[data-testid="rule-preview-summary"]')!.textContent).toContain("3 online now; 1 would be approached");

    // An edit, not saved, is previewed a moment later.
    await type(inRule(1, "cond-min_scroll_percent"), "20");
    await until(() => server.previews.some((p) => p.rule?.conditions?.minScrollPercent === 20), "the edited rule previewed");
    await until(() => rows()[1].dataset.matches === "true", "Bo matching");
  });
});

describe("The rules' funnel", () => {
  it("draws each rule's funnel with its variants as sub-rows and the control group beside", async () => {
    const { $, all } = await mount("report");
    // The site's rules show at once, with zeros until the report arrives.
    expect(all('[data-testid="rule-report-row"]')).toHaveLength(4);
    await until(() => all('[data-step="matched"]')[0]?.textContent === "200", "the report");
    const rows = all('[data-testid="rule-report-row"]');
    expect(rows.map((r) => r.querySelector("th")!.textContent)).toEqual(["Big cart", "Variant A", "Variant B", "Docs readers"]);
    const cell = (r: HTMLElement, step: string) => r.querySelector(`[data-step="${step}"]`)!;
    expect(["matched", "heldOut", "invited", "accepted", "formsSubmitted", "queued", "rated"].map((s) => cell(rows[0], s).textContent)).toEqual([
      "200",
      "20",
      "180",
      "45",
      "40",
      "40",
      "9",
    ]);
    expect(cell(rows[0], "chatted").textContent).toBe("36 (held out: 2)");
    expect(rows[0].querySelector('[data-testid="chat-rate"]')!.textContent).toBe("20%");
    expect(rows[0].querySelector('[data-testid="control-chat-rate"]')!.textContent).toBe("10%");
    expect(rows[1].className).toBe("sub-row");
    expect(cell(rows[2], "chatted").textContent).toBe("24");
    expect((cell(rows[0], "invited").querySelector(".funnel-bar") as HTMLElement).style.width).toBe("90%");
    expect(cell(rows[3], "matched").textContent).toBe("0");
    expect($('[data-testid="rule-report"]')!.textContent).toContain("predicted wait now: 45s");
  });
});
