// The chat itself, on both sides: a visitor reloading mid-chat loses
// nothing and sees nothing twice; markup in messages is text.

import assert from "node:assert/strict";
import {
  agentStartsChat,
  bothLeave,
  consoleMessage,
  consoleMessages,
  consoleSend,
  scenario,
  widget,
  widgetMessage,
  widgetMessages,
  widgetSend,
} from "./harness.mjs";

scenario("reload mid-chat: every earlier message shown exactly once, and the chat goes on", async (ctx) => {
  const m1 = "Hello! Looking for a lamp for your desk?";
  const { agent, visitor, chatId } = await agentStartsChat(ctx, { path: "/demo/", firstMessage: m1 });
  const v1 = "Yes, something warm and not too tall.";
  await widgetSend(visitor, v1);
  await widgetMessage(visitor, v1).waitFor();
  await consoleMessage(agent, v1).waitFor();
  const m2 = "Then the Oak Desk is the one: 38 cm, linen shade.";
  await consoleSend(agent, m2);
  await widgetMessage(visitor, m2).waitFor();

  // Reload: the widget comes back open, with the conversation.
  await visitor.reload();
  await widgetMessage(visitor, m2).waitFor();
  await widget(visitor).locator("#pc-msg").waitFor();

  // New messages both ways after the reload.
  const m3 = "It also comes in walnut, if you prefer darker wood.";
  await consoleSend(agent, m3);
  await widgetMessage(visitor, m3).waitFor();
  const v2 = "Oak is perfect, thank you!";
  await widgetSend(visitor, v2);
  await consoleMessage(agent, v2).waitFor();
  await widgetMessage(visitor, v2).waitFor();

  // The stream delivers in order, so anything doubled would be in by now.
  const all = [m1, v1, m2, m3, v2];
  for (const text of all) {
    assert.equal(await widgetMessage(visitor, text).count(), 1, `widget shows "${text}" once`);
    assert.equal(await consoleMessage(agent, text).count(), 1, `console shows "${text}" once`);
  }
  assert.deepEqual(
    await widgetMessages(visitor).evaluateAll((els) => els.map((el) => el.lastChild.textContent)),
    all,
    "the widget shows the conversation in order, nothing else",
  );
  assert.equal(await widget(visitor).locator(".log .msg.pending").count(), 0);
  assert.equal(await widget(visitor).locator(".note", { hasText: "You are chatting with" }).count(), 1);
  assert.deepEqual(
    await consoleMessages(agent).evaluateAll((els) => els.map((el) => el.querySelector(".msg-text").textContent)),
    all,
  );

  await bothLeave(ctx, { agent, visitor, chatId });
});

scenario("markup in messages is shown as text on both sides", async (ctx) => {
  const evil = `<script>alert(1)</script><img src=x onerror="window.__xss=1">`;
  const fromAgent = `agent: ${evil}`;
  const fromVisitor = `visitor: ${evil}`;
  const dialogs = [];
  const { agent, visitor, chatId } = await agentStartsChat(ctx, { firstMessage: fromAgent });
  for (const page of [agent, visitor]) page.on("dialog", (d) => (dialogs.push(d.message()), d.dismiss()));
  await widgetSend(visitor, fromVisitor);
  await widgetMessage(visitor, fromVisitor).waitFor();
  await consoleMessage(agent, fromVisitor).waitFor();

  // The exact text, as text.
  for (const text of [fromAgent, fromVisitor]) {
    assert.equal(await widgetMessage(visitor, text).evaluate((el) => el.lastChild.textContent), text);
    assert.equal(await consoleMessage(agent, text).locator(".msg-text").textContent(), text);
  }
  // No element made of it, no script run, on either side.
  const shadowElements = await widget(visitor).evaluate((host) => ({
    img: host.shadowRoot.querySelectorAll("img").length,
    script: host.shadowRoot.querySelectorAll("script").length,
    inLog: host.shadowRoot.querySelectorAll(".log .msg *:not(.who)").length,
  }));
  assert.deepEqual(shadowElements, { img: 0, script: 0, inLog: 0 }, "the widget's shadow root");
  const consoleElements = await agent.evaluate(() => ({
    img: document.querySelectorAll("img").length,
    scriptInChat: document.querySelectorAll('[data-testid="chat-panel"] script').length,
    inText: document.querySelectorAll('[data-testid="message"] .msg-text *').length,
  }));
  assert.deepEqual(consoleElements, { img: 0, scriptInChat: 0, inText: 0 }, "the console");
  assert.equal(await visitor.evaluate(() => typeof window.__xss), "undefined");
  assert.equal(await agent.evaluate(() => typeof window.__xss), "undefined");
  assert.deepEqual(dialogs, []);

  await bothLeave(ctx, { agent, visitor, chatId });
});
