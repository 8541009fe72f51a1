// Issue 18: after a chat the visitor rates it and the agent sees the rating;
// a visitor who said No to the invitation asks for a chat with the site's
// launcher button (site_demo_invite, /demo/invite/) and reaches the queue.

import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  INVITE_SITE,
  agentStartsChat,
  alertFor,
  axe,
  eventually,
  formatViolations,
  openConsole,
  scenario,
  screenshotsDir,
  visit,
  widget,
  widgetButton,
  widgetTitle,
} from "./harness.mjs";

scenario("rating: the chat ends, the visitor rates it 5 with a comment, the transcript shows it", async (ctx) => {
  const { api } = ctx;
  const { agent, visitor, chatId } = await agentStartsChat(ctx, { firstMessage: "Hello! Looking for a lamp?" });
  const w = widget(visitor);

  // The agent leaves: the widget asks how it was, without taking focus.
  await agent.getByTestId("leave-chat").click();
  const question = w.getByText("How was this chat?", { exact: true });
  await question.waitFor();
  assert.equal(
    await w.evaluate((host) => !!host.shadowRoot.activeElement?.closest("form.rate")),
    false,
    "the rating form does not take focus",
  );
  const group = w.getByRole("radiogroup", { name: "How was this chat?" });
  await group.waitFor();
  assert.equal(await group.getByRole("radio").count(), 5);
  const { serious } = await axe(visitor, "proactive-chat-widget");
  assert.deepEqual(serious, [], formatViolations("the rating form", serious));
  // A screenshot for the README: the rating prompt after the chat.
  await mkdir(screenshotsDir, { recursive: true });
  await visitor.screenshot({ path: join(screenshotsDir, "widget-rating.png") });

  // Five stars by keyboard-reachable radio, a comment, Send.
  await w.getByRole("radio", { name: "5 of 5 stars, Excellent" }).check();
  await w.locator("#pc-rate-c").fill("Dana found the right lamp in a minute.");
  await widgetButton(visitor, "Send").click();
  await w.getByText("Thanks for your feedback!").waitFor();
  const chat = await eventually(async () => {
    const c = await api.chat(chatId);
    assert.equal(c.state, "CHAT_STATE_ENDED");
    assert.equal(c.rating?.score, 5);
    return c;
  });
  assert.equal(chat.rating.comment, "Dana found the right lamp in a minute.");

  // The console's transcript shows it; the header the agent's average.
  await agent.getByTestId("nav-transcripts").click();
  const item = agent.locator(`[data-testid="transcript-item"][data-chat-id="${chatId}"]`);
  await item.filter({ hasText: "rated 5/5" }).waitFor();
  await item.click();
  const rating = agent.locator(`[data-testid="transcript"][data-chat-id="${chatId}"] [data-testid="chat-rating"]`);
  await rating.waitFor();
  assert.equal(await rating.getAttribute("data-score"), "5");
  assert.match(await rating.textContent(), /Dana found the right lamp in a minute\./);
  await agent.reload();
  await agent.getByTestId("my-rating").filter({ hasText: "5.0" }).waitFor();
  assert.match(await agent.getByTestId("my-rating").textContent(), /\(1\)/);
});

scenario("launcher: a visitor who said No clicks it, fills the form, waits in the queue, the agent is alerted", async (ctx) => {
  const { base, api } = ctx;
  await api.patch(`/v1/sites/${INVITE_SITE}?update_mask=visitor_launcher`, {
    visitorLauncher: { enabled: true, label: "Ask us anything" },
  });
  const agent = await ctx.open("agent");
  await openConsole(agent, base);
  const visitor = await ctx.open("visitor");
  const visitorId = await visit(visitor, `${base}/demo/invite/`);
  const w = widget(visitor);
  await widgetButton(visitor, "No").click();
  await eventually(async () => {
    assert.equal((await api.visitor(INVITE_SITE, visitorId))?.engagement, "ENGAGEMENT_STATE_DECLINED");
  });

  // The launcher: a real button, at least 44 px, reachable by keyboard.
  const launcher = widgetButton(visitor, "Ask us anything");
  await launcher.waitFor();
  // A screenshot for the README: the launcher on the page.
  await mkdir(screenshotsDir, { recursive: true });
  await visitor.screenshot({ path: join(screenshotsDir, "widget-launcher.png") });
  const box = await launcher.boundingBox();
  assert.ok(box.width >= 44 && box.height >= 44, `launcher is ${box.width}×${box.height}`);
  await launcher.focus();
  await visitor.keyboard.press("Enter");

  // The same form as after Yes, then the queue.
  await widgetTitle(visitor).filter({ hasText: "Before we start" }).waitFor();
  assert.equal(await launcher.isVisible(), false, "the launcher hides while the form shows");
  await w.locator("#pc-f-name").fill("Grace Hopper");
  await w.locator("#pc-f-email").fill("grace@example.com");
  await widgetButton(visitor, "Send").click();
  await widgetTitle(visitor).filter({ hasText: "Waiting in Queue" }).waitFor();
  const alert = alertFor(agent, visitorId);
  await alert.waitFor();
  await alert.getByText("Asked for a chat", { exact: true }).waitFor();
  const queue = await api.queue(INVITE_SITE);
  assert.equal(queue.length, 1);
  assert.equal(queue[0].kind, "CHAT_REQUEST_KIND_VISITOR");
});
