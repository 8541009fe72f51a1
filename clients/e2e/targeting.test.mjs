// Trigger rules end to end in Chromium: what the widget reports (scroll
// depth, exit intent) makes the server launch the rule that asks for it,
// and the invitation with that rule's text appears; the admin page's
// preview evaluates an unsaved rule against the visitor online, showing a
// match and then the condition that fails, and the server's field errors
// land next to their inputs.

import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { INVITE_SITE, axe, eventually, formatViolations, openConsole, scenario, screenshotsDir, visit, widget } from "./harness.mjs";

const WITH_INVITE = "PROACTIVE_CHAT_MODE_WITH_INVITE";
const DEEP = "Read this far? Ask us anything about the lamps.";
const LEAVING = "Before you go: free shipping on your first lamp!";

/** setRules replaces the site's trigger rules (the rest of its settings stay). */
async function setRules(api, rules) {
  const res = await api.patch(`/v1/sites/${INVITE_SITE}?update_mask=proactive_chat.rules`, { proactiveChat: { rules } });
  return res.site?.proactiveChat?.rules ?? res.proactiveChat?.rules;
}

/** activityReports collects the widget's ReportActivity requests on page. */
function activityReports(page) {
  const reports = [];
  page.on("request", (r) => {
    if (r.url().endsWith("/proactivechat.v1.VisitorService/ReportActivity")) reports.push(JSON.parse(r.postData() ?? "{}"));
  });
  return reports;
}

/** tallPage makes the demo page long enough to scroll: 5 screens. */
async function tallPage(page) {
  await page.evaluate(() => {
    const spacer = document.createElement("div");
    spacer.style.height = `${window.innerHeight * 5}px`;
    spacer.setAttribute("aria-hidden", "true");
    document.querySelector("main").append(spacer);
  });
}

scenario("trigger rules: scroll depth and exit intent, reported by the widget, launch their rules' invitations", async (ctx) => {
  const { base, api, server } = ctx;
  // The demo agent is available: a with-invite rule invites only then.
  const agent = await ctx.open("agent");
  await openConsole(agent, base);
  await setRules(api, [
    { name: "Deep readers", enabled: true, mode: WITH_INVITE, inviteText: DEEP, conditions: { minScrollPercent: 70 } },
    { name: "Leaving", enabled: true, mode: WITH_INVITE, inviteText: LEAVING, conditions: { exitIntent: true, devices: ["DEVICE_CLASS_DESKTOP"] } },
  ]);

  // --- Scroll depth: a little is not enough; most of the page is.
  const reader = await ctx.open("reader");
  const readerReports = activityReports(reader);
  const readerId = await visit(reader, `${base}/demo/invite/`);
  await eventually(async () => assert.ok((await api.visitor(INVITE_SITE, readerId))?.openStreams >= 1, "the widget's stream is open"));
  await tallPage(reader);
  await reader.mouse.move(400, 400);
  await reader.mouse.wheel(0, 600);
  await eventually(() => assert.ok(readerReports.some((r) => r.activity?.scrollPercent > 0), "a first depth reported"));
  const first = readerReports.find((r) => r.activity?.scrollPercent > 0);
  assert.ok(first.activity.scrollPercent < 70, `the first depth (${first.activity.scrollPercent} %) is under the rule's`);
  assert.equal(first.visitorId, readerId);
  assert.match(first.pageUrl, /\/demo\/invite\/$/);
  // Reported and evaluated: still browsing, no invitation.
  await eventually(async () => assert.equal((await api.visitor(INVITE_SITE, readerId))?.engagement, "ENGAGEMENT_STATE_BROWSING"));
  assert.equal(await widget(reader).getByText(DEEP).count(), 0);
  await reader.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  await widget(reader).getByText(DEEP, { exact: true }).waitFor();
  assert.ok(readerReports.some((r) => r.activity?.scrollPercent >= 70), "the depth that launched was reported");
  assert.equal(await widget(reader).getByText(LEAVING).count(), 0, "the first matching rule wins");

  // --- Exit intent: the pointer leaves through the top edge, toward the browser's bar.
  const leaver = await ctx.open("leaver");
  const leaverReports = activityReports(leaver);
  const leaverId = await visit(leaver, `${base}/demo/invite/pricing.html`);
  await eventually(async () => assert.ok((await api.visitor(INVITE_SITE, leaverId))?.openStreams >= 1, "the widget's stream is open"));
  await leaver.mouse.move(640, 400);
  await leaver.mouse.move(640, 200, { steps: 4 });
  // Out through the side first: not exit intent.
  await leaver.mouse.move(-5, 200, { steps: 2 });
  await leaver.mouse.move(640, 200, { steps: 2 });
  await leaver.mouse.move(640, -10, { steps: 4 });
  await widget(leaver).getByText(LEAVING, { exact: true }).waitFor();
  const exits = leaverReports.filter((r) => r.activity?.exitIntent);
  assert.ok(exits.length >= 1, "exit intent was reported");
  assert.equal(exits[0].visitorId, leaverId);
  assert.equal(await widget(leaver).getByText(DEEP).count(), 0);

  // The rules' funnel counts both launches.
  const report = await eventually(async () => {
    const r = (await api.get(`/v1/sites/${INVITE_SITE}/rule-report`)).report;
    const invited = (name) => {
      const rule = (r.rules ?? []).find((f) => !f.variantId && f.ruleId && f.ruleId === ids[name]);
      return Number(rule?.invited ?? 0);
    };
    const site = (await api.get(`/v1/sites/${INVITE_SITE}`)).site;
    const ids = Object.fromEntries(site.proactiveChat.rules.map((x) => [x.name, x.id]));
    assert.equal(invited("Deep readers"), 1);
    assert.equal(invited("Leaving"), 1);
    return r;
  });
  assert.ok(report);

  // The admin page draws it.
  await agent.getByTestId("nav-admin").click();
  await agent.getByTestId("admin-key-input").fill(server.adminKey);
  await agent.getByTestId("admin-key-save").click();
  await agent.getByTestId("admin-key-status").waitFor();
  await agent.locator(`[data-testid="site-item"][data-site-id="${INVITE_SITE}"]`).click();
  const chart = agent.getByTestId("rule-report");
  const deepRow = chart.locator('[data-testid="rule-report-row"]').filter({ hasText: "Deep readers" });
  await deepRow.locator('[data-step="invited"]').filter({ hasText: /^1/ }).waitFor();
  await mkdir(screenshotsDir, { recursive: true });
  await chart.screenshot({ path: join(screenshotsDir, "rule-report.png") });
});

scenario("trigger rules: the admin page previews an unsaved rule against the visitor online, and shows the server's field errors in place", async (ctx) => {
  const { base, api, server } = ctx;
  // Nothing launches meanwhile: the preview is about the rule, not the site's state.
  await api.patch(`/v1/sites/${INVITE_SITE}?update_mask=proactive_chat.enabled`, { proactiveChat: { enabled: false } });
  const visitor = await ctx.open("visitor");
  const visitorId = await visit(visitor, `${base}/demo/invite/pricing.html`);
  await eventually(async () => assert.ok((await api.visitor(INVITE_SITE, visitorId))?.openStreams >= 1));

  // Available: a with-invite rule matches only while an agent can take the chat.
  const agent = await ctx.open("agent");
  await openConsole(agent, base);
  await agent.getByTestId("nav-admin").click();
  await agent.getByTestId("admin-key-input").fill(server.adminKey);
  await agent.getByTestId("admin-key-save").click();
  await agent.getByTestId("admin-key-status").waitFor();
  await agent.locator(`[data-testid="site-item"][data-site-id="${INVITE_SITE}"]`).click();
  const editor = agent.getByTestId("trigger-rules");
  const rule = editor.getByTestId("rule").first();
  await rule.getByTestId("rule-toggle").click();
  await rule.getByLabel("Pages viewed in this visit, at least").fill("1");
  await rule.getByLabel("Seconds on the site, at least").fill("");
  await rule.getByTestId("rule-preview-toggle").click();
  const row = rule.locator(`[data-testid="preview-row"][data-visitor-id="${visitorId}"]`);
  await row.and(agent.locator('[data-matches="true"]')).waitFor();
  assert.equal(await row.getByTestId("preview-match").textContent(), "Matches");
  // The same rule, edited and still unsaved, asks for more pages: it fails, and says which condition.
  await rule.getByLabel("Pages viewed in this visit, at least").fill("3");
  await row.and(agent.locator('[data-matches="false"]')).waitFor();
  assert.match(await row.getByTestId("preview-failed").textContent(), /min_pages_viewed/);
  await mkdir(screenshotsDir, { recursive: true });
  await rule.screenshot({ path: join(screenshotsDir, "trigger-rules.png") });
  // Labelled and usable by assistive technology, open rule and preview included.
  for (const sel of ['[data-testid="trigger-rules"]', '[data-testid="rule-report"]']) {
    const { serious } = await axe(agent, sel);
    assert.equal(serious.length, 0, formatViolations(sel, serious));
  }
  const saved = (await api.get(`/v1/sites/${INVITE_SITE}`)).site.proactiveChat.rules[0];
  assert.equal(saved.conditions?.minPagesViewed ?? 0, 0, "the preview saved nothing");

  // Saving a language the server refuses: the error is beside the languages input.
  await rule.getByLabel("Languages").fill("en, not a tag!");
  await editor.getByTestId("rules-save").click();
  await editor.getByTestId("rules-error").waitFor();
  const languages = rule.getByLabel("Languages");
  assert.equal(await languages.getAttribute("aria-invalid"), "true");
  const describedBy = await languages.getAttribute("aria-describedby");
  assert.match(await agent.locator(`[id="${describedBy}"]`).textContent(), /language tag/);
  // Corrected, it saves, and the REST API reads what was saved.
  await rule.getByLabel("Languages").fill("en, de");
  await editor.getByTestId("rules-save").click();
  await editor.getByTestId("rules-saved").waitFor();
  const after = (await api.get(`/v1/sites/${INVITE_SITE}`)).site.proactiveChat.rules[0];
  assert.deepEqual(after.conditions.languages, ["en", "de"]);
  assert.equal(after.conditions.minPagesViewed, 3);
});
