import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FormFieldType, ProactiveChatMode, SiteSchema } from "../../../gen/proactivechat/v1/site_pb";
import { buildUpdateSiteRequest, draftFromSite, emptyFormField, retentionText } from "./settings";

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

  it("names exactly the settings that changed", () => {
    const b = buildUpdateSiteRequest(site.id, original, {
      ...original,
      enabled: true,
      mode: ProactiveChatMode.WITHOUT_INVITE,
      launchAfterSeconds: " 30 ",
    });
    expect(b.errors).toEqual({});
    expect(b.request?.updateMask?.paths).toEqual([
      "proactive_chat.enabled",
      "proactive_chat.mode",
      "proactive_chat.launch_after_seconds",
    ]);
    expect(b.request?.site?.id).toBe("site_1");
    const pc = b.request?.site?.proactiveChat;
    expect(pc?.enabled).toBe(true);
    expect(pc?.mode).toBe(ProactiveChatMode.WITHOUT_INVITE);
    expect(pc?.launchAfterSeconds).toBe(30);
  });

  it("sends the form fields as edited, in order", () => {
    const b = buildUpdateSiteRequest(site.id, original, {
      ...original,
      inviteText: "Can we help?",
      formFields: [
        { ...emptyFormField(), key: " email ", label: "E-mail", type: FormFieldType.EMAIL, required: true, maxLength: "100" },
        original.formFields[0],
      ],
    });
    expect(b.request?.updateMask?.paths).toEqual(["proactive_chat.invite_text", "proactive_chat.form_fields"]);
    const fields = b.request?.site?.proactiveChat?.formFields ?? [];
    expect(fields.map((f) => [f.key, f.label, f.type, f.required, f.maxLength])).toEqual([
      ["email", "E-mail", FormFieldType.EMAIL, true, 100],
      ["name", "Your name", FormFieldType.TEXT, true, 0],
    ]);
    expect(b.request?.site?.proactiveChat?.inviteText).toBe("Can we help?");
  });

  it("replaces the whole settings when a timeout or page pattern changes", () => {
    const b = buildUpdateSiteRequest(site.id, original, {
      ...original,
      enabled: true,
      alertTimeoutSeconds: "20",
      excludePages: "https://shop.example/checkout*\n\n",
    });
    expect(b.request?.updateMask?.paths).toEqual(["proactive_chat"]);
    const pc = b.request?.site?.proactiveChat;
    expect(pc?.enabled).toBe(true);
    expect(pc?.alertTimeoutSeconds).toBe(20);
    expect(pc?.launchAfterSeconds).toBe(10);
    expect(pc?.includePages).toEqual(["https://shop.example/*"]);
    expect(pc?.excludePages).toEqual(["https://shop.example/checkout*"]);
    expect(pc?.formFields.map((f) => f.key)).toEqual(["name"]);
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
    const b = buildUpdateSiteRequest(site.id, original, {
      ...original,
      launchAfterSeconds: "1.5",
      formFields: [{ ...original.formFields[0], maxLength: "-1" }],
    });
    expect(b.request).toBeUndefined();
    expect(b.errors).toEqual({
      "proactive_chat.launch_after_seconds": "must be a whole number, 0 or more",
      "proactive_chat.form_fields[0].max_length": "must be a whole number, 0 or more",
    });
  });

  it("reads a site into the form", () => {
    expect(original).toMatchObject({
      name: "Shop",
      allowedOrigins: "https://shop.example",
      enabled: false,
      launchAfterSeconds: "10",
      alertTimeoutSeconds: "45",
      inviteTimeoutSeconds: "",
      includePages: "https://shop.example/*",
      formFields: [{ key: "name", label: "Your name", type: FormFieldType.TEXT, required: true, maxLength: "" }],
    });
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
