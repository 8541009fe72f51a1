// The agent console's first click. Browsers let a page play sound only
// after a click or key press, so the console asks ("Allow sound"):
// - an agent who is already Available opens (or reloads) the console and,
//   without having touched the page yet, an alert comes: the first click,
//   on Accept, must accept it;
// - the first click, on "Allow sound", allows sound.

import assert from "node:assert/strict";
import {
  AGENT,
  AGENT_PASSWORD,
  DEMO_SITE,
  UI_TIMEOUT,
  agentStartsChat,
  alertFor,
  consoleMessage,
  openConsole,
  scenario,
  visit,
  widget,
  widgetButton,
  widgetSend,
} from "./harness.mjs";

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
  await alert.waitFor({ timeout: UI_TIMEOUT + 10_000 }); // the demo launches after 10 s

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

// Issue 18, 1: only an Available agent starts chats. The console says so
// before the click, instead of showing the server's refusal (which stayed
// after switching to Available).
scenario("console: Start chat waits for Available, with a hint instead of the server's refusal", async (ctx) => {
  const { base, api } = ctx;
  await api.launchAfter(DEMO_SITE, 600); // no alert: Start chat is the visitor's action
  const agent = await ctx.open("agent");
  await openConsole(agent, base, { available: false });
  const visitor = await ctx.open("visitor");
  const visitorId = await visit(visitor, `${base}/demo/`);
  const row = agent.locator(`[data-testid="visitor-row"][data-visitor-id="${visitorId}"]`);
  const start = row.getByTestId("start-chat");
  await start.waitFor();
  assert.equal(await start.getAttribute("aria-disabled"), "true", "Start chat while Offline");
  assert.match((await start.getAttribute("title")) ?? "", /Offline.*Available/);
  const hint = agent.getByTestId("start-chat-hint");
  assert.match(await hint.textContent(), /You are Offline: set your status to Available/);
  assert.equal(await start.getAttribute("aria-describedby"), "start-chat-hint");
  // (Playwright does not click an aria-disabled button unless forced; a person can.)
  await start.click({ force: true });
  await agent.waitForTimeout(300);
  assert.equal(await row.getByTestId("visitor-note").count(), 0, "no server error under the visitor");
  assert.equal(await agent.getByTestId("chat-panel").count(), 0, "no chat started");

  await agent.getByTestId("status-select").selectOption({ label: "Available" });
  await agent.locator('[data-testid="status-select"][data-status="AVAILABLE"]').waitFor();
  await hint.waitFor({ state: "detached" });
  assert.equal(await start.getAttribute("aria-disabled"), null);
  await start.click();
  await agent.getByTestId("chat-panel").waitFor();
  assert.equal(await agent.getByTestId("visitor-note").count(), 0);
});

// Issue 18, 2 and 12: once the visitor has left, the message box is closed
// (nobody would read a message); messages carry their time.
scenario("console: the message box closes when the visitor leaves; messages show their time", async (ctx) => {
  const first = "Hello! Can I help you find something?";
  const { agent, visitor } = await agentStartsChat(ctx, { firstMessage: first });
  const time = consoleMessage(agent, first).getByTestId("message-time");
  const iso = await time.getAttribute("datetime");
  assert.ok(iso && Math.abs(Date.parse(iso) - Date.now()) < 60_000, `the message's time ${iso} is now`);
  assert.match(await time.textContent(), /^\d\d:\d\d$/);

  // The visitor answers (a visitor who leaves without a word ends the chat),
  // then closes the chat window.
  await widgetSend(visitor, "Just looking, thanks");
  await consoleMessage(agent, "Just looking, thanks").waitFor();
  const input = agent.getByTestId("message-input");
  assert.equal(await input.isDisabled(), false);
  await widgetButton(visitor, "Close").click();
  await widget(visitor).waitFor({ state: "hidden" });
  await agent.getByTestId("chat-event").filter({ hasText: "The visitor left the chat" }).waitFor();
  await agent.getByTestId("composer-hint").filter({ hasText: "The visitor has left" }).waitFor();
  assert.equal(await input.isDisabled(), true, "the message box after the visitor left");
  assert.equal(await input.getAttribute("aria-disabled"), "true");
  assert.equal(await input.getAttribute("aria-describedby"), await agent.getByTestId("composer-hint").getAttribute("id"));
  assert.equal(await agent.getByTestId("send").isDisabled(), true);
});

// Issue 18, 3, 10 and 11: a colleague signs in with her e-mail; a visitor
// alerting her shows her name in the other agent's queue, not her id; she
// sees a plain line (no routing internals) and one way to take the
// visitor: Accept.
scenario("console: a colleague by name in the queue; an alert is a plain line with one action", async (ctx) => {
  const { base, api } = ctx;
  const olga = (
    await api.post("/v1/agents", { displayName: "Olga", siteIds: [DEMO_SITE], login: "olga@demo.example" })
  ).agent;
  await api.post(`/v1/agents/${olga.id}/password`, { password: AGENT_PASSWORD });
  // Olga signs in with her e-mail and is the one Available agent.
  const colleague = await ctx.open("colleague");
  await colleague.goto(`${base}/agent/`);
  await colleague.getByLabel("E-mail", { exact: true }).fill("Olga@demo.example");
  await colleague.getByLabel("Password", { exact: true }).fill(AGENT_PASSWORD);
  await colleague.getByLabel("Password", { exact: true }).press("Enter");
  await colleague.locator('[data-testid="connection-status"][data-state="open"]').waitFor();
  assert.equal(await colleague.getByTestId("agent-name").textContent(), "Olga");
  await colleague.getByTestId("status-select").selectOption({ label: "Available" });
  await colleague.locator('[data-testid="status-select"][data-status="AVAILABLE"]').waitFor();
  const agent = await ctx.open("agent");
  await openConsole(agent, base, { available: false });

  const visitor = await ctx.open("visitor");
  const visitorId = await visit(visitor, `${base}/demo/`);
  const alert = alertFor(colleague, visitorId);
  // The demo site launches after 10 s on the site: that leaves the UI
  // timeout little room on a busy machine.
  await alert.waitFor({ timeout: UI_TIMEOUT + 10_000 });
  assert.match(await alert.getByTestId("alert-line").textContent(), /^A visitor on .+ is waiting — 0:\d\d left$/);
  assert.doesNotMatch(await alert.textContent(), /Chosen because|candidate/);
  // One action: the alert's Accept; neither Take chat nor Start chat for the same visitor.
  const queueRow = colleague.locator('[data-testid="queue-row"]');
  await queueRow.waitFor();
  assert.equal(await queueRow.getByTestId("accept-queued").count(), 0, "Take chat beside Accept");
  const presenceRow = colleague.locator(`[data-testid="visitor-row"][data-visitor-id="${visitorId}"]`);
  await presenceRow.getByTestId("visitor-action-elsewhere").waitFor();
  assert.equal(await presenceRow.getByTestId("start-chat").count(), 0, "Start chat beside Accept");

  // The other agent's queue names Olga.
  const state = agent.locator('[data-testid="queue-row"] [data-testid="queue-state"]');
  await state.filter({ hasText: "Alerting Olga" }).waitFor();
  assert.doesNotMatch(await state.textContent(), /agent_/);

  await alert.getByTestId("accept-alert").click();
  await colleague.getByTestId("chat-panel").waitFor();
});
