import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FormFieldType, ProactiveChatMode, SiteSchema } from "../../../gen/proactivechat/v1/site_pb";
import { buildUpdateSiteRequest, draftFromSite, emptyFormField, formFieldsFromDraft, formFieldsToDraft, retentionText } from "./settings";

const site = create(SiteSchema, {
  id: "site_1",
  name: "Shop",
  allowedOrigins: ["https://shop.example"],
  proactiveChat: {
    enabled: false,
    mode: ProactiveChatMode.WITH_INVITE,
    launchAfterSeconds: 10,
    inviteText: "Hi!",
    formFields: [{ key: "name", label: "Your name", type: FormFieldType.TEXT, required: true }],
    alertTimeoutSeconds: 45,
    includePages: ["https://shop.example/*"],
  },
});

describe("buildUpdateSiteRequest", () => {
  const original = draftFromSite(site);

  it("turns the visitor launcher on and sets its label by their own paths", () => {
    const b = buildUpdateSiteRequest(site.id, original, { ...original, launcherEnabled: true, launcherLabel: " Ask us " });
    expect(original.launcherEnabled).toBe(false);
    expect(b.request?.updateMask?.paths).toEqual(["visitor_launcher.enabled", "visitor_launcher.label"]);
    expect(b.request?.site?.visitorLauncher).toMatchObject({ enabled: true, label: "Ask us" });
  });

  it("sends nothing when nothing changed", () => {
    const b = buildUpdateSiteRequest(site.id, original, original);
    expect(b.paths).toEqual([]);
    expect(b.request).toBeUndefined();
  });

  it("names exactly the settings that changed, each by its own path", () => {
    const b = buildUpdateSiteRequest(site.id, original, {
      ...original,
      enabled: true,
      alertTimeoutSeconds: " 20 ",
      queueHoldSeconds: "90",
    });
    expect(b.errors).toEqual({});
    expect(b.request?.updateMask?.paths).toEqual([
      "proactive_chat.enabled",
      "proactive_chat.alert_timeout_seconds",
      "proactive_chat.queue_hold_seconds",
    ]);
    expect(b.request?.site?.id).toBe("site_1");
    const pc = b.request?.site?.proactiveChat;
    expect(pc?.enabled).toBe(true);
    expect(pc?.alertTimeoutSeconds).toBe(20);
    expect(pc?.queueHoldSeconds).toBe(90);
  });

  it("never replaces the whole proactive_chat message, which holds the trigger rules", () => {
    for (const k of ["inviteTimeoutSeconds", "reinviteCooldownSeconds", "inactivityTimeoutSeconds", "inactivityWarningSeconds"] as const) {
      const b = buildUpdateSiteRequest(site.id, original, { ...original, [k]: "33" });
      expect(b.paths).toHaveLength(1);
      expect(b.paths[0]).toMatch(/^proactive_chat\.[a-z_]+_seconds$/);
      expect(b.request?.site?.proactiveChat?.rules).toEqual([]);
    }
  });

  it("updates the site's name and origins by their own paths", () => {
    const b = buildUpdateSiteRequest(site.id, original, {
      ...original,
      name: "Shop 2",
      allowedOrigins: "https://shop.example\nhttps://www.shop.example",
    });
    expect(b.request?.updateMask?.paths).toEqual(["name", "allowed_origins"]);
    expect(b.request?.site?.allowedOrigins).toEqual(["https://shop.example", "https://www.shop.example"]);
  });

  it("catches numbers that are not whole seconds before sending", () => {
    const b = buildUpdateSiteRequest(site.id, original, { ...original, alertTimeoutSeconds: "1.5", queueHoldSeconds: "-1" });
    expect(b.request).toBeUndefined();
    expect(b.errors).toEqual({
      "proactive_chat.alert_timeout_seconds": "must be a whole number, 0 or more",
      "proactive_chat.queue_hold_seconds": "must be a whole number, 0 or more",
    });
  });

  it("reads a site into the form", () => {
    expect(original).toMatchObject({
      name: "Shop",
      allowedOrigins: "https://shop.example",
      enabled: false,
      alertTimeoutSeconds: "45",
      inviteTimeoutSeconds: "",
    });
  });
});

describe("form fields", () => {
  it("round-trip through the editor, in order, with max lengths checked", () => {
    const fields = formFieldsToDraft(site.proactiveChat!.formFields);
    expect(fields).toEqual([{ key: "name", label: "Your name", type: FormFieldType.TEXT, required: true, maxLength: "" }]);
    const errors: Record<string, string> = {};
    const out = formFieldsFromDraft(
      [{ ...emptyFormField(), key: " email ", label: "E-mail", type: FormFieldType.EMAIL, required: true, maxLength: "100" }, ...fields, { ...fields[0], maxLength: "x" }],
      "proactive_chat.rules[1].form_fields",
      errors,
    );
    expect(out.map((f) => [f.key, f.label, f.type, f.required, f.maxLength])).toEqual([
      ["email", "E-mail", FormFieldType.EMAIL, true, 100],
      ["name", "Your name", FormFieldType.TEXT, true, 0],
      ["name", "Your name", FormFieldType.TEXT, true, 0],
    ]);
    expect(errors).toEqual({ "proactive_chat.rules[1].form_fields[2].max_length": "must be a whole number, 0 or more" });
  });
});

describe("retention settings", () => {
  const kept = create(SiteSchema, {
    id: site.id,
    name: site.name,
    retention: { visitorSeconds: 7 * 86400, chatSeconds: 36 * 3600 },
  });
  const original = draftFromSite(kept);

  it("shows whole days as days, other periods with a unit", () => {
    expect(original.visitorRetention).toBe("7");
    expect(original.chatRetention).toBe("36h");
    expect(draftFromSite(site).visitorRetention).toBe("");
    expect(retentionText(3601)).toBe("3601s");
  });

  it("sends only the period that changed, in seconds", () => {
    const b = buildUpdateSiteRequest(site.id, original, { ...original, visitorRetention: " 30 " });
    expect(b.errors).toEqual({});
    expect(b.request?.updateMask?.paths).toEqual(["retention.visitor_seconds"]);
    expect(b.request?.site?.retention?.visitorSeconds).toBe(30 * 86400);
    expect(b.request?.site?.retention?.chatSeconds).toBe(36 * 3600);
  });

  it("empty is the server's default", () => {
    const b = buildUpdateSiteRequest(site.id, original, { ...original, chatRetention: "", visitorRetention: "90d" });
    expect(b.request?.updateMask?.paths).toEqual(["retention.visitor_seconds", "retention.chat_seconds"]);
    expect(b.request?.site?.retention?.chatSeconds).toBe(0);
    expect(b.request?.site?.retention?.visitorSeconds).toBe(90 * 86400);
  });

  it("refuses what the server would, by the server's field names", () => {
    for (const bad of ["10m", "-1", "1.5", "0s", "59m", "30s", "3651", "soon"]) {
      const b = buildUpdateSiteRequest(site.id, original, { ...original, visitorRetention: bad });
      if (bad === "0s") {
        expect(b.errors).toEqual({}); // 0 is the default
        continue;
      }
      expect(Object.keys(b.errors), bad).toEqual(["retention.visitor_seconds"]);
      expect(b.request).toBeUndefined();
    }
  });
});

describe("business hours", () => {
  const original = draftFromSite(site);

  it("are empty for a site without them, and round-trip through the editor", () => {
    expect(original.timeZone).toBe("");
    expect(original.days).toEqual(["", "", "", "", "", "", ""]);
    const days = [...original.days];
    days[0] = "09:00-12:00, 13:00-17:00";
    days[4] = "09:00 - 24:00";
    const b = buildUpdateSiteRequest(site.id, original, {
      ...original,
      timeZone: "Europe/Berlin",
      days,
      holidays: "2026-12-24..2026-12-26 Christmas\n2027-01-01",
      offlineMaxWait: "300",
    });
    expect(b.errors).toEqual({});
    expect(b.paths).toEqual(["business_hours", "offline_message.max_wait_seconds"]);
    const bh = b.request!.site!.businessHours!;
    expect(bh.timeZone).toBe("Europe/Berlin");
    expect(bh.weekly.map((w) => [w.dayOfWeek, w.open, w.close])).toEqual([
      [1, "09:00", "12:00"],
      [1, "13:00", "17:00"],
      [5, "09:00", "24:00"],
    ]);
    expect(bh.holidays.map((h) => [h.startDate, h.endDate, h.name])).toEqual([
      ["2026-12-24", "2026-12-26", "Christmas"],
      ["2027-01-01", "", ""],
    ]);
    expect(b.request!.site!.offlineMessage?.maxWaitSeconds).toBe(300);
    const back = draftFromSite(b.request!.site!);
    expect(back.days[0]).toBe("09:00-12:00, 13:00-17:00");
    expect(back.holidays).toBe("2026-12-24..2026-12-26 Christmas\n2027-01-01");
  });

  it("name what is wrong before sending", () => {
    const days = [...original.days];
    days[2] = "17:00-09:00";
    const b = buildUpdateSiteRequest(site.id, original, { ...original, days, holidays: "Christmas" });
    expect(b.request).toBeUndefined();
    expect(Object.keys(b.errors).sort()).toEqual(["business_hours.days[2]", "business_hours.holidays", "business_hours.time_zone"]);
  });
});
