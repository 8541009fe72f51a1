// Accessibility: axe-core finds no serious or critical violation in the
// widget's views (invite, form, form with errors, queue, chat; checked
// inside its shadow root) nor in the console (idle, with an alert, with a
// chat); and the invitation, the form and the chat work with the
// keyboard alone.

import assert from "node:assert/strict";
import {
  INVITE_SITE,
  acceptAlert,
  alertFor,
  axe,
  bothLeave,
  consoleMessage,
  consoleSend,
  eventually,
  formatViolations,
  openConsole,
  saveScreenshot,
  scenario,
  visit,
  widget,
  widgetMessage,
  widgetTitle,
} from "./harness.mjs";

const HOST = "proactive-chat-widget";

// Every view is checked; the findings are reported at the end, the
// widget's and the console's apart.
const findings = { widget: [], console: [] };
async function assertAxe(page, where, selector) {
  const { serious, shadowNodes } = await axe(page, selector);
  if (serious.length) {
    findings[selector === HOST ? "widget" : "console"].push(formatViolations(where, serious));
    await saveScreenshot(page, `accessibility-axe-${where}`);
  }
  if (selector === HOST) assert.ok(shadowNodes > 0, `${where}: axe checked the widget's shadow root`);
}

/** focused is the label of the element focused in the widget, or null when focus is outside it. */
function focused(page) {
  return page.evaluate((sel) => {
    const host = document.querySelector(sel);
    if (document.activeElement !== host) return null;
    const el = host.shadowRoot.activeElement;
    return el ? el.getAttribute("aria-label") || el.id || el.textContent : "";
  }, HOST);
}

/** tabTo presses Tab (or Shift+Tab) until the widget's element labelled name has focus. */
async function tabTo(page, name, key = "Tab", max = 40) {
  for (let i = 0; i < max; i++) {
    if ((await focused(page)) === name) return i;
    await page.keyboard.press(key);
  }
  throw new Error(`${key} never reached the widget's "${name}" (focus is on ${await focused(page)})`);
}

scenario("accessibility: axe on the widget's views and the console; the invite with the keyboard only", async (ctx) => {
  const { base, api } = ctx;
  const agent = await ctx.open("agent");
  await openConsole(agent, base);
  await assertAxe(agent, "console (idle)");

  // --- Keyboard: the invitation leaves focus in the page (it is announced); Tab to No, Enter.
  const declining = await ctx.open("visitor-declining");
  const declinerId = await visit(declining, `${base}/demo/invite/contact.html`);
  await widgetTitle(declining).filter({ hasText: "Chat with us" }).waitFor();
  await assertAxe(declining, "widget: invite", HOST);
  assert.equal(await focused(declining), null, "the invitation does not take focus from the page");
  await tabTo(declining, "Yes");
  assert.ok((await tabTo(declining, "No")) >= 1);
  await declining.keyboard.press("Enter");
  await widget(declining).waitFor({ state: "hidden" });
  await eventually(async () => {
    assert.equal((await api.visitor(INVITE_SITE, declinerId))?.engagement, "ENGAGEMENT_STATE_DECLINED");
  });

  // --- Keyboard: out of the invitation into the page and back, Enter on Yes.
  const visitor = await ctx.open("visitor");
  await visit(visitor, `${base}/demo/invite/`);
  await widgetTitle(visitor).filter({ hasText: "Chat with us" }).waitFor();
  for (let i = 0; i < 10 && (await focused(visitor)) !== null; i++) await visitor.keyboard.press("Shift+Tab");
  assert.equal(await focused(visitor), null, "Shift+Tab leaves the widget for the page");
  await tabTo(visitor, "Yes");
  await visitor.keyboard.press("Enter");

  // The form, with the keyboard: Enter on the empty form shows the errors.
  await widgetTitle(visitor).filter({ hasText: "Before we start" }).waitFor();
  await assertAxe(visitor, "widget: form", HOST);
  assert.equal(await focused(visitor), "pc-f-name", "the form takes focus on its first field");
  await visitor.keyboard.press("Enter");
  await widget(visitor).locator("#pc-e-email").filter({ hasText: "E-mail is required" }).waitFor();
  await assertAxe(visitor, "widget: form with errors", HOST);
  await visitor.keyboard.type("Grace Hopper");
  await visitor.keyboard.press("Tab");
  assert.equal(await focused(visitor), "pc-f-email");
  await visitor.keyboard.type("grace@example.com");
  await visitor.keyboard.press("Enter");

  await widgetTitle(visitor).filter({ hasText: "Waiting in Queue" }).waitFor();
  await widget(visitor).getByText("You are number 1 in the queue.").waitFor();
  await assertAxe(visitor, "widget: queue", HOST);

  // The console with an alert, then with the chat.
  const visitorId = (await api.queue(INVITE_SITE))[0]?.visitorId;
  assert.ok(visitorId, "the visitor is queued");
  await alertFor(agent, visitorId).waitFor();
  await assertAxe(agent, "console (alert)");
  const chatId = await acceptAlert(agent, visitorId);
  const hello = "Hello Grace, how can I help?";
  await consoleSend(agent, hello);
  await widgetMessage(visitor, hello).waitFor();

  // The chat, with the keyboard: focus is in the message box; Enter sends.
  assert.equal(await focused(visitor), "pc-msg", "the chat takes focus in the message box");
  const answer = "Just browsing, thanks!";
  await visitor.keyboard.type(answer);
  await visitor.keyboard.press("Enter");
  await widgetMessage(visitor, answer).waitFor();
  await consoleMessage(agent, answer).waitFor();
  await assertAxe(visitor, "widget: chat", HOST);
  await assertAxe(agent, "console (chat)");

  await bothLeave(ctx, { agent, visitor, chatId });
  for (const side of ["widget", "console"]) {
    await ctx.t.test(`${side}: no serious or critical axe violations`, () => {
      assert.ok(findings[side].length === 0, `axe found, in the ${side}:\n${findings[side].join("\n")}`);
    });
  }
});
