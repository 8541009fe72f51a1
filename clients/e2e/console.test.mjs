// The agent console's first click. Browsers let a page play sound only
// after a click or key press, so the console asks ("Allow sound"):
// - an agent who is already Available opens (or reloads) the console and,
//   without having touched the page yet, an alert comes: the first click,
//   on Accept, must accept it;
// - the first click, on "Allow sound", allows sound.

import assert from "node:assert/strict";
import { AGENT, alertFor, openConsole, scenario, visit } from "./harness.mjs";

// Signing in is typing on the page: the console is reloaded after it (the
// session is kept), so nothing has touched the page yet.
async function reloadUntouched(page) {
  await page.reload();
  await page.locator('[data-testid="connection-status"][data-state="open"]').waitFor();
}

scenario("console: the first click after loading, on an alert's Accept, accepts it", async (ctx) => {
  const { base, api } = ctx;
  // Status is kept on the server: a console reloaded by an Available agent.
  // (Only the agent sets its status: with a session of its own.)
  await (await api.asAgent()).put(`/v1/agents/${AGENT}/status`, { status: "AGENT_STATUS_AVAILABLE" });
  const agent = await ctx.open("agent");
  await openConsole(agent, base, { available: false });
  await reloadUntouched(agent);
  await agent.locator('[data-testid="status-select"][data-status="AVAILABLE"]').waitFor();

  const visitor = await ctx.open("visitor");
  const visitorId = await visit(visitor, `${base}/demo/`);
  const alert = alertFor(agent, visitorId);
  await alert.waitFor();

  // Where the button is when the mouse goes down, and where it is after.
  await agent.evaluate(() => {
    const where = () => Math.round(document.querySelector('[data-testid="accept-alert"]')?.getBoundingClientRect().top ?? -1);
    window.__acceptTop = { pointerdown: -1, mouseup: -1, clickTarget: "" };
    addEventListener("pointerdown", () => (window.__acceptTop.pointerdown = where()), true);
    addEventListener("mouseup", () => (window.__acceptTop.mouseup = where()), true);
    addEventListener("click", (e) => (window.__acceptTop.clickTarget = e.target.dataset.testid ?? e.target.tagName), true);
  });
  await alert.getByTestId("accept-alert").click();
  const accepted = await agent
    .getByTestId("chat-panel")
    .waitFor({ timeout: 5_000 })
    .then(() => true, () => false);
  const moved = await agent.evaluate(() => window.__acceptTop);
  assert.ok(
    accepted,
    `the click on Accept did not accept the alert: the button was at y=${moved.pointerdown} on pointerdown and ` +
      `y=${moved.mouseup} on mouseup, and the click went to "${moved.clickTarget}" (the console's first pointerdown ` +
      `unlocks sound, "Allow sound" becomes "Sound on" and the header reflows under the pointer)`,
  );
});

scenario("console: the first click, on Allow sound, turns sound on", async (ctx) => {
  // Wide enough that the header does not reflow (see the test above).
  const agent = await ctx.open("agent", { viewport: { width: 1440, height: 900 } });
  await openConsole(agent, ctx.base, { available: false });
  await reloadUntouched(agent);
  const toggle = agent.getByTestId("sound-toggle");
  await toggle.filter({ hasText: "Allow sound" }).waitFor();
  await toggle.click();
  await toggle.filter({ hasNotText: "Allow sound" }).waitFor();
  assert.equal(await toggle.textContent(), "Sound on", 'after the first click on "Allow sound"');
  assert.equal(await toggle.getAttribute("aria-pressed"), "true");
});
