// Mode 1, proactive chat with invite (site_demo_invite, /demo/invite/):
// invite → No → gone for good; invite → Yes → form (required fields
// checked) → "Waiting in Queue" → the agent is alerted → chat → both close.

import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  INVITE_SITE,
  AGENT_NAME,
  acceptAlert,
  alertFor,
  bothLeave,
  consoleMessage,
  consoleSend,
  eventually,
  openConsole,
  scenario,
  screenshotsDir,
  visit,
  widget,
  widgetButton,
  widgetMessage,
  widgetSend,
  widgetTitle,
} from "./harness.mjs";

const INVITE_TEXT = "Hi! Can we help you find something?";
const RED = "rgb(209, 36, 47)"; // .req in clients/widget/style.ts

scenario("mode 1: No hides the widget for good; Yes, form, queue, alert, chat, both close", async (ctx) => {
  const { base, api } = ctx;
  const agent = await ctx.open("agent");
  await openConsole(agent, base);

  // --- A visitor refuses the invitation.
  const declining = await ctx.open("visitor-declining");
  const declinerId = await visit(declining, `${base}/demo/invite/`);
  await widget(declining).getByText(INVITE_TEXT, { exact: true }).waitFor();
  await widgetTitle(declining).filter({ hasText: "Chat with us" }).waitFor();
  await widgetButton(declining, "No").click();
  await widget(declining).waitFor({ state: "hidden" });
  await eventually(async () => {
    const v = await api.visitor(INVITE_SITE, declinerId);
    assert.equal(v?.engagement, "ENGAGEMENT_STATE_DECLINED");
  });

  // Another page of the site, then a reload of it: the same visitor, still
  // DECLINED once the widget's stream is open on that page, and no widget.
  const stillDeclined = async (resumedId) => {
    assert.equal(resumedId, declinerId, "the widget resumes the same visitor");
    await eventually(async () => {
      const v = await api.visitor(INVITE_SITE, declinerId);
      assert.match(v?.currentPage?.url ?? "", /\/demo\/invite\/pricing\.html$/);
      assert.ok(v.openStreams >= 1, "the widget's stream is open on the new page");
      assert.equal(v.engagement, "ENGAGEMENT_STATE_DECLINED");
    });
    assert.equal(await widget(declining).isVisible(), false, "no invitation after No");
  };
  await stillDeclined(await visit(declining, `${base}/demo/invite/pricing.html`));
  await stillDeclined(await visit(declining, null));
  assert.equal(await alertFor(agent, declinerId).count(), 0, "the agent is not alerted of a visitor who said No");

  // --- A new visitor accepts.
  const visitor = await ctx.open("visitor");
  const visitorId = await visit(visitor, `${base}/demo/invite/`);
  assert.notEqual(visitorId, declinerId);
  await widget(visitor).getByText(INVITE_TEXT, { exact: true }).waitFor();
  await widgetButton(visitor, "Yes").click();
  await widgetTitle(visitor).filter({ hasText: "Before we start" }).waitFor();

  // Required fields carry a visible red asterisk; the optional one none.
  const w = widget(visitor);
  for (const key of ["name", "email"]) {
    const star = w.locator(`label[for="pc-f-${key}"] .req`);
    await star.waitFor();
    assert.equal(await star.textContent(), "*");
    assert.equal(await star.evaluate((el) => getComputedStyle(el).color), RED, `${key}: red asterisk`);
    assert.equal(await w.locator(`#pc-f-${key}`).getAttribute("aria-required"), "true");
  }
  assert.equal(await w.locator('label[for="pc-f-question"] .req').count(), 0, "the optional field has no asterisk");

  // Send with the required name empty: blocked, the field marked, the error beside it.
  await w.locator("#pc-f-email").fill("ada@example.com");
  await w.locator("#pc-f-question").fill("Which lamp is best for reading?");
  await widgetButton(visitor, "Send").click();
  const nameError = w.locator("#pc-e-name");
  await nameError.filter({ hasText: "Your name is required" }).waitFor();
  assert.equal(await w.locator("#pc-f-name").getAttribute("aria-invalid"), "true");
  assert.ok(
    await w.locator("#pc-f-name").evaluate((input) => {
      const err = input.getRootNode().getElementById("pc-e-name");
      return (
        input.closest(".field") === err.closest(".field") &&
        input.getAttribute("aria-describedby").split(" ").includes("pc-e-name")
      );
    }),
    "the error is beside its field and describes it",
  );
  assert.equal(await w.locator("#pc-f-email").getAttribute("aria-invalid"), null, "the valid field is not marked");
  assert.equal(await w.locator("#pc-e-email").isVisible(), false);
  assert.equal(
    await w.evaluate((host) => host.shadowRoot.activeElement?.id),
    "pc-f-name",
    "focus moves to the field to fix",
  );
  assert.deepEqual(await api.queue(INVITE_SITE), [], "nothing is queued");
  assert.equal((await api.visitor(INVITE_SITE, visitorId))?.engagement, "ENGAGEMENT_STATE_FILLING_FORM");
  assert.equal(await widgetTitle(visitor).textContent(), "Before we start");

  // Filled in: queued, "Waiting in Queue".
  await w.locator("#pc-f-name").fill("Ada Lovelace");
  await widgetButton(visitor, "Send").click();
  await widgetTitle(visitor).filter({ hasText: "Waiting in Queue" }).waitFor();
  await w.getByText("You are number 1 in the queue.").waitFor();
  const queued = await api.queue(INVITE_SITE);
  assert.equal(queued.length, 1);
  assert.equal(queued[0].visitorId, visitorId);
  assert.deepEqual(queued[0].formValues, {
    name: "Ada Lovelace",
    email: "ada@example.com",
    question: "Which lamp is best for reading?",
  });

  // The first available agent is alerted, with the form, and accepts.
  const alert = alertFor(agent, visitorId);
  await alert.waitFor();
  await alert.getByTestId("form-values").getByText("Ada Lovelace").waitFor();
  await alert.getByTestId("alert-countdown").waitFor();
  // The form's name and e-mail are who the visitor is now: the agent sees
  // "Ada Lovelace", not "Visitor …", in the alert, presence and the chat.
  await alert.locator("h2", { hasText: "Ada Lovelace is waiting" }).waitFor();
  await agent
    .locator(`[data-testid="visitor-row"][data-visitor-id="${visitorId}"] [data-testid="visitor-name"]`)
    .filter({ hasText: "Ada Lovelace" })
    .waitFor();
  const chatId = await acceptAlert(agent, visitorId);
  await agent.getByTestId("chat-tab").filter({ hasText: "Ada Lovelace" }).waitFor();

  // The widget turns into the chat; messages go both ways.
  await widgetTitle(visitor).filter({ hasText: AGENT_NAME }).waitFor();
  await w.locator("#pc-msg").waitFor();
  const hello = "Hello Ada! For reading I would take the Walnut Arc.";
  await consoleSend(agent, hello);
  await widgetMessage(visitor, hello).waitFor();
  await consoleMessage(agent, hello).waitFor();
  const answer = "Thanks! Does it come with a dimmer?";
  await widgetSend(visitor, answer);
  await widgetMessage(visitor, answer).waitFor();
  await consoleMessage(agent, answer).waitFor();
  const reply = "It does, and it ships free within the EU.";
  await consoleSend(agent, reply);
  await widgetMessage(visitor, reply).waitFor();
  assert.equal(await consoleMessage(agent, answer).getAttribute("data-mine"), "false");
  assert.equal(await consoleMessage(agent, hello).getAttribute("data-mine"), "true");

  // Screenshots for the README, mid-chat.
  await mkdir(screenshotsDir, { recursive: true });
  await visitor.screenshot({ path: join(screenshotsDir, "widget.png") });
  await agent.screenshot({ path: join(screenshotsDir, "console.png") });

  // Both close their windows: the chat ends.
  const chat = await bothLeave(ctx, { agent, visitor, chatId });
  assert.equal(chat.endReason, "CHAT_END_REASON_BOTH_LEFT");
  assert.deepEqual(await api.queue(INVITE_SITE), []);
});
