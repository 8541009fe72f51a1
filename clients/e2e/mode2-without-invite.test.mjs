// Mode 2, proactive chat without invite (site_demo, /demo/): after the
// launching criteria the agent is alerted, accepts and writes; the widget
// opens on that message; the visitor closes it without writing: the chat
// ends as VISITOR_DECLINED.

import assert from "node:assert/strict";
import {
  AGENT_NAME,
  DEMO_SITE,
  acceptAlert,
  alertFor,
  consoleMessage,
  consoleSend,
  eventually,
  openConsole,
  scenario,
  visit,
  widget,
  widgetButton,
  widgetMessage,
  widgetTitle,
} from "./harness.mjs";

scenario("mode 2: alert, the agent's message opens the widget, the visitor closes it: VISITOR_DECLINED", async (ctx) => {
  const { base, api } = ctx;
  const agent = await ctx.open("agent");
  await openConsole(agent, base);

  const visitor = await ctx.open("visitor");
  const visitorId = await visit(visitor, `${base}/demo/pricing.html`);

  // The criteria (1 s on the site) are reached: the agent is alerted, with the page.
  const alert = alertFor(agent, visitorId);
  await alert.waitFor();
  await alert.getByText("On site").waitFor();
  await alert.getByRole("link", { name: "Pricing — Lumen Lamps" }).waitFor();
  assert.equal(await widget(visitor).isVisible(), false, "the widget stays quiet while the agent is alerted");

  // The agent accepts: the chat exists, the widget still waits for a message.
  const chatId = await acceptAlert(agent, visitorId);
  await eventually(async () => {
    const v = await api.visitor(DEMO_SITE, visitorId);
    assert.equal(v?.engagement, "ENGAGEMENT_STATE_CHATTING");
    assert.equal(v.activeChatId, chatId);
  });
  assert.equal(await widget(visitor).isVisible(), false, "no window before the agent writes");

  // The agent's message opens the widget.
  const hello = "Hi! I see you are looking at our prices. Any questions?";
  await consoleSend(agent, hello);
  await consoleMessage(agent, hello).waitFor();
  await widgetMessage(visitor, hello).waitFor();
  await widgetTitle(visitor).filter({ hasText: AGENT_NAME }).waitFor();
  await widget(visitor).locator("#pc-msg").waitFor();

  // No assistance required: the visitor closes the window without writing.
  await widgetButton(visitor, "Close").click();
  await widget(visitor).waitFor({ state: "hidden" });

  // The agent sees the chat ended, and why.
  await agent.getByTestId("chat-ended").filter({ hasText: "no assistance required" }).waitFor();
  await agent.getByTestId("chat-event").filter({ hasText: "Chat ended" }).waitFor();
  assert.equal(await agent.getByTestId("message-input").count(), 0, "no composer in an ended chat");
  const chat = await eventually(async () => {
    const c = await api.chat(chatId);
    assert.equal(c.state, "CHAT_STATE_ENDED");
    return c;
  });
  assert.equal(chat.endReason, "CHAT_END_REASON_VISITOR_DECLINED");

  // The agent closes the tab; the visitor stays on the site, not chatting.
  await agent.getByTestId("leave-chat").click();
  await agent.getByTestId("chat-panel").waitFor({ state: "detached" });
  await eventually(async () => {
    const v = await api.visitor(DEMO_SITE, visitorId);
    assert.equal(v?.engagement, "ENGAGEMENT_STATE_BROWSING");
    assert.equal(v.activeChatId, "");
  });
  assert.equal(await widget(visitor).isVisible(), false);
});
