// The console's admin page: a site's settings as an administrator edits
// them. Here its data retention periods: shown as stored, checked before
// they are sent, saved with the admin API key, and what was saved is what
// the REST API reads.

import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { DEMO_SITE, eventually, openConsole, scenario, screenshotsDir, visit } from "./harness.mjs";

/** openAdmin opens the admin page with the admin API key and the demo site's settings. */
async function openAdmin(page, adminKey) {
  await page.getByTestId("nav-admin").click();
  const status = page.getByTestId("admin-key-status");
  if (!(await status.isVisible())) {
    await page.getByTestId("admin-key-input").fill(adminKey);
    await page.getByTestId("admin-key-save").click();
    await status.waitFor();
  }
  await page.locator(`[data-testid="site-item"][data-site-id="${DEMO_SITE}"]`).click();
  return page.locator(`[data-testid="site-settings"][data-site-id="${DEMO_SITE}"]`);
}

scenario("admin page: a site's retention periods are shown, checked and saved", async (ctx) => {
  const { base, api, server } = ctx;
  const agent = await ctx.open("agent");
  await openConsole(agent, base, { available: false });
  let form = await openAdmin(agent, server.adminKey);
  const visitors = () => form.getByTestId("retention-visitors");
  const chats = () => form.getByTestId("retention-chats");
  assert.equal(await visitors().inputValue(), "", "a new site uses the server's periods");
  assert.equal(await chats().inputValue(), "");
  assert.match(await form.getByTestId("retention-settings").textContent(), /30 days/);

  // Under an hour is refused at the field, and nothing is sent.
  await visitors().fill("30s");
  await form.getByTestId("save-settings").click();
  await form.getByTestId("settings-error").waitFor();
  const fieldError = form.locator("#ret-visitorRetention-err");
  assert.match(await fieldError.textContent(), /an hour/);
  assert.equal(await visitors().getAttribute("aria-invalid"), "true");
  assert.equal((await api.get(`/v1/sites/${DEMO_SITE}`)).site.retention, null, "nothing was saved");

  await visitors().fill("7");
  await chats().fill("365");
  await form.getByTestId("save-settings").click();
  await form.getByTestId("settings-saved").waitFor();
  assert.deepEqual((await api.get(`/v1/sites/${DEMO_SITE}`)).site.retention, {
    visitorSeconds: 7 * 86400,
    chatSeconds: 365 * 86400,
  });

  // Changed over REST to a period that is not whole days, the page shows
  // it in hours, and emptying the other field goes back to the default.
  await api.patch(`/v1/sites/${DEMO_SITE}?update_mask=retention.chat_seconds`, { retention: { chatSeconds: 36 * 3600 } });
  await agent.reload();
  await agent.locator('[data-testid="connection-status"][data-state="open"]').waitFor();
  form = await openAdmin(agent, server.adminKey);
  assert.equal(await chats().inputValue(), "36h");
  assert.equal(await visitors().inputValue(), "7");
  await visitors().fill("");
  await form.getByTestId("save-settings").click();
  await form.getByTestId("settings-saved").waitFor();
  assert.deepEqual((await api.get(`/v1/sites/${DEMO_SITE}`)).site.retention, { visitorSeconds: 0, chatSeconds: 36 * 3600 });
});

scenario("admin page: the proactive funnel shows GetFunnel's counts with conversions", async (ctx) => {
  const { base, api, server } = ctx;
  // A visit that launches (the demo site launches after a second).
  const visitor = await ctx.open("visitor");
  await visit(visitor, `${base}/demo/pricing.html`);
  const funnel = await eventually(async () => {
    const f = (await api.get(`/v1/sites/${DEMO_SITE}/funnel`)).funnel;
    const launches = f.steps.find((s) => s.step === "launches");
    assert.ok(Number(launches.count) >= 1, "no launch yet");
    return f;
  });
  const count = (step) => String(Number(funnel.steps.find((s) => s.step === step).count));

  const agent = await ctx.open("agent");
  await openConsole(agent, base, { available: false });
  await openAdmin(agent, server.adminKey);
  const chart = agent.getByTestId("funnel");
  await chart.waitFor();
  const row = (step) => chart.locator(`[data-testid="funnel-step"][data-step="${step}"]`);
  await row("visits").waitFor();
  assert.equal(await row("visits").getAttribute("data-count"), count("visits"));
  assert.equal(await row("launches").getAttribute("data-count"), count("launches"));
  // Read as a table: the step names its row, the conversion is text.
  assert.ok(await chart.getByRole("rowheader", { name: "Launches" }).isVisible());
  assert.match(await row("launches").textContent(), /%|—/);
  // A screenshot for the README: the funnel chart.
  await mkdir(screenshotsDir, { recursive: true });
  await chart.screenshot({ path: join(screenshotsDir, "funnel.png") });
  // Another range asks again.
  await chart.getByTestId("funnel-range-today").check();
  await eventually(async () => assert.equal(await row("visits").getAttribute("data-count"), count("visits")));
});
