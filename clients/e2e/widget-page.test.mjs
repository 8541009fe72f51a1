// The widget as a guest on the page (issue 18): it never takes focus from
// the page unasked, says what arrives while minimised (a badge, a preview,
// the live region), dates its messages, says something in the queue before
// any wait was measured, stops at once on a page whose origin the site does
// not allow (and says, once, what to add), and has touch-sized targets on
// touch screens. And the console says who left from the agent's side.

import assert from "node:assert/strict";
import { createServer } from "node:http";
import {
  AGENT_NAME,
  INVITE_SITE,
  DEMO_SITE,
  acceptAlert,
  alertFor,
  consoleSend,
  openConsole,
  panel,
  scenario,
  visit,
  widget,
  widgetButton,
  widgetMessage,
  widgetTitle,
} from "./harness.mjs";

/** focusIn is what has focus: "widget", "page-button" (the test's button), or the active element's tag. */
function focusIn(page) {
  return page.evaluate(() => {
    const a = document.activeElement;
    if (a?.tagName === "PROACTIVE-CHAT-WIDGET") return "widget";
    return a?.id === "page-button" ? "page-button" : (a?.tagName ?? "none").toLowerCase();
  });
}

scenario("focus stays in the page unasked; queue without history; unread badge while minimised; times; who left", async (ctx) => {
  const { base, api } = ctx;
  const agent = await ctx.open("agent");
  await openConsole(agent, base);

  // --- A page button has focus when the invitation appears: it keeps it.
  const visitor = await ctx.open("visitor");
  await visit(visitor, `${base}/demo/invite/`);
  const before = await visitor.evaluate(() => {
    const b = document.createElement("button");
    b.id = "page-button";
    b.textContent = "Add to cart";
    document.body.prepend(b);
    b.focus();
    const host = document.querySelector("proactive-chat-widget");
    const live = host?.shadowRoot?.querySelector(".sr[aria-live=polite]");
    return { hidden: host?.hidden ?? true, live: live ? getComputedStyle(live).display : "" };
  });
  assert.ok(before.hidden, "the page button had focus before the invitation appeared");
  // The live region is rendered before it speaks (one that appears with its text is often not read).
  assert.ok(before.live && before.live !== "none", `the live region is rendered while the widget is hidden (${before.live})`);
  await widgetTitle(visitor).filter({ hasText: "Chat with us" }).waitFor();
  assert.equal(await focusIn(visitor), "page-button", "the invitation leaves focus on the page's button");
  // Screen readers hear it instead.
  await widget(visitor).locator(".sr[aria-live=polite]").filter({ hasText: "Chat invitation:" }).waitFor({ state: "attached" });

  // The visitor's own Yes: the form may take focus.
  await widgetButton(visitor, "Yes").click();
  await widgetTitle(visitor).filter({ hasText: "Before we start" }).waitFor();
  assert.equal(await widget(visitor).evaluate((h) => h.shadowRoot.activeElement?.id), "pc-f-name");
  await widget(visitor).locator("#pc-f-name").fill("Grace Hopper");
  await widget(visitor).locator("#pc-f-email").fill("grace@example.com");
  await widgetButton(visitor, "Send").click();

  // --- The queue on a new server (no wait measured yet) still says something.
  await widgetTitle(visitor).filter({ hasText: "Waiting in Queue" }).waitFor();
  await widget(visitor).locator("#pc-queue").filter({ hasText: "An agent will be with you soon." }).waitFor();

  const visitorId = (await api.queue(INVITE_SITE))[0]?.visitorId;
  assert.ok(visitorId, "the visitor is queued");
  await alertFor(agent, visitorId).waitFor();
  const chatId = await acceptAlert(agent, visitorId);
  const hello = "Hello Grace, how can I help?";
  await consoleSend(agent, hello);
  await widgetMessage(visitor, hello).waitFor();

  // --- Each message shows its time (local HH:MM, from the server's timestamp).
  const msg = widgetMessage(visitor, hello);
  const at = Date.parse((await msg.getAttribute("data-time")) ?? "");
  assert.ok(Math.abs(Date.now() - at) < 60_000, `the message's time ${new Date(at).toISOString()} is the server's, now`);
  const local = await visitor.evaluate((ms) => new Date(ms).toTimeString().slice(0, 5), at);
  assert.equal(await msg.locator(".who").textContent(), `${AGENT_NAME} · ${local}`);

  // --- A page loaded during the chat shows it, without taking focus.
  await visit(visitor, null);
  await widgetMessage(visitor, hello).waitFor();
  assert.notEqual(await focusIn(visitor), "widget", "a page loaded mid-chat does not focus the message box");

  // --- Minimised: the agent's messages show as a count and a preview, announced; opening clears them.
  await widgetButton(visitor, "Minimise").click();
  const badge = widget(visitor).locator(".badge");
  assert.equal(await badge.isVisible(), false);
  await consoleSend(agent, "Are you still there?");
  await consoleSend(agent, "Our Walnut Arc lamp ships to Portugal, by the way.");
  await badge.filter({ hasText: /^2$/ }).waitFor();
  await widget(visitor).locator(".preview").filter({ hasText: "Dana (demo agent): Our Walnut Arc lamp ships to Portugal" }).waitFor();
  await widget(visitor).locator(".sr[aria-live=polite]").filter({ hasText: "New message from Dana (demo agent)" }).waitFor({ state: "attached" });
  assert.ok(await widget(visitor).locator(".log").isHidden(), "still minimised");
  await widgetButton(visitor, "Restore (2 unread)").click();
  await badge.waitFor({ state: "hidden" });
  await widget(visitor).locator(".log").waitFor();

  // --- The visitor closes without having written: the agent did not leave, the chat closed for them.
  await widgetButton(visitor, "Close").click();
  await widget(visitor).waitFor({ state: "hidden" });
  const events = agent.locator(`[data-testid="chat-panel"][data-chat-id="${chatId}"] [data-testid="chat-event"]`);
  await events.filter({ hasText: "The visitor left the chat" }).waitFor();
  await events.filter({ hasText: "The chat closed for you too" }).waitFor();
  assert.equal(await events.filter({ hasText: "You left the chat" }).count(), 0, "the console does not say the agent left");
});

scenario("a page whose origin the site does not allow: one session attempt, one console message, no retries", async (ctx) => {
  const { base } = ctx;
  // The shop's page on another port: an origin no site lists (on the
  // loopback too, so that Chromium lets it reach the server).
  const page = `<!doctype html><title>Shop</title><h1>Shop</h1><script src="${base}/widget.js" data-site="${DEMO_SITE}" async></script>`;
  const other = createServer((_, res) => res.writeHead(200, { "content-type": "text/html" }).end(page));
  await new Promise((resolve) => other.listen(0, "127.0.0.1", resolve));
  ctx.t.after(() => new Promise((resolve) => other.close(resolve)));
  const shop = `http://127.0.0.1:${other.address().port}`;
  const visitor = await ctx.open("visitor-elsewhere");
  const sessions = [];
  visitor.on("request", (req) => {
    if (req.url().endsWith("/StartVisitorSession") && req.method() === "POST") sessions.push(req.url());
  });
  const messages = [];
  visitor.on("console", (msg) => messages.push(`${msg.type()}: ${msg.text()}`));
  // The widget's timers (its backoff too) run on the test's clock, paused.
  await visitor.clock.install({ time: new Date("2026-12-07T08:00:00Z") });
  await visitor.clock.pauseAt(new Date("2026-12-07T08:00:01Z"));
  const warned = visitor.waitForEvent("console", (msg) => msg.text().startsWith("Proactive Chat:"));
  await visitor.goto(`${shop}/shop/`);
  const warning = await warned;
  assert.equal(warning.type(), "warning");
  assert.equal(
    warning.text(),
    `Proactive Chat: this page's origin ${shop} is not in site ${DEMO_SITE}'s allowed_origins; ` +
      `add it with UpdateSite (PATCH /v1/sites/${DEMO_SITE}?update_mask=allowed_origins, ` +
      `body {"allowedOrigins": [..., "${shop}"]}). The widget will not retry.`,
  );
  // Two minutes of the page's time, ten seconds at a time: the old widget
  // tried again about ten times in a hundred seconds.
  for (let i = 0; i < 12; i++) {
    await visitor.clock.runFor(10_000);
    await visitor.evaluate(() => new Promise((r) => queueMicrotask(r)));
  }
  assert.deepEqual(sessions.length, 1, `one session attempt, not ${sessions.length}`);
  // The widget says it once; besides, only Chromium's own line for the one refused request.
  const widgetSays = messages.filter((m) => /proactive chat/i.test(m));
  assert.equal(widgetSays.length, 1, `the widget says it once:\n${messages.join("\n")}`);
  assert.deepEqual(
    messages.filter((m) => !widgetSays.includes(m)),
    ["error: Failed to load resource: the server responded with a status of 403 (Forbidden)"],
    "one request refused, nothing else in the console",
  );
  assert.equal(await widget(visitor).count(), 0, "no widget on the page");
});

const PHONE = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

scenario("touch screens: targets of at least 44×44 px, 8 px apart; 16 px inputs (no zoom on iOS)", async (ctx) => {
  const { base } = ctx;
  await openConsole(await ctx.open("agent"), base); // invitations need an available agent
  const visitor = await ctx.open("visitor-phone", PHONE);
  await visit(visitor, `${base}/demo/invite/`);
  await widgetTitle(visitor).filter({ hasText: "Chat with us" }).waitFor();
  const w = widget(visitor);
  assert.ok(await visitor.evaluate(() => matchMedia("(pointer: coarse)").matches), "the phone's pointer is coarse");

  const box = async (loc) => {
    const b = await loc.boundingBox();
    assert.ok(b, "shown");
    return b;
  };
  const big = (name, b) => assert.ok(b.width >= 44 && b.height >= 44, `${name} is ${b.width}×${b.height} px, not 44×44`);
  const apart = (what, a, b) => {
    const gap = Math.max(b.x - (a.x + a.width), a.x - (b.x + b.width), b.y - (a.y + a.height), a.y - (b.y + b.height));
    assert.ok(gap >= 8, `${what} are ${gap} px apart, not 8`);
  };
  const min = await box(widgetButton(visitor, "Minimise"));
  const close = await box(widgetButton(visitor, "Close"));
  big("Minimise", min);
  big("Close", close);
  apart("Minimise and Close", min, close);
  const yes = await box(widgetButton(visitor, "Yes"));
  const no = await box(widgetButton(visitor, "No"));
  big("Yes", yes);
  big("No", no);
  apart("Yes and No", yes, no);
  const p = await box(panel(visitor));
  assert.ok(p.x >= 0 && p.x + p.width <= 375 + 0.5, "the panel fits the phone's width");

  await widgetButton(visitor, "Yes").tap();
  await widgetTitle(visitor).filter({ hasText: "Before we start" }).waitFor();
  big("Send", await box(widgetButton(visitor, "Send")));
  for (const sel of ["#pc-f-name", "#pc-f-email", "#pc-f-question", "#pc-msg"]) {
    const size = await w.locator(sel).evaluate((el) => getComputedStyle(el).fontSize);
    assert.equal(size, "16px", `${sel}: font-size ${size}, under 16 px makes iOS zoom the page`);
  }
});
