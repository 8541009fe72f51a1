// Issue 18: an agent hands a chat to a colleague with a note. The colleague
// gets the chat with its history and the note; the visitor sees who took
// over, and never any note.

import assert from "node:assert/strict";
import {
  AGENT_PASSWORD,
  DEMO_SITE,
  agentStartsChat,
  consoleMessage,
  consoleSend,
  scenario,
  signIn,
  widget,
  widgetMessage,
  widgetSend,
  widgetTitle,
} from "./harness.mjs";

scenario("transfer: Dana hands the chat to Sam with a note; the widget shows Sam, never the note", async (ctx) => {
  const { base, api } = ctx;
  const first = "Hello! Anything I can help with?";
  const { agent: dana, visitor, chatId } = await agentStartsChat(ctx, { firstMessage: first });
  const question = "Can I get a refund on order 42?";
  await widgetSend(visitor, question);
  await consoleMessage(dana, question).waitFor();

  // Sam, a colleague of the same site, comes online.
  const samAgent = (await api.post("/v1/agents", { displayName: "Sam", siteIds: [DEMO_SITE] })).agent;
  await api.post(`/v1/agents/${samAgent.id}/password`, { password: AGENT_PASSWORD });
  const sam = await ctx.open("sam");
  await sam.goto(`${base}/agent/?agent=${samAgent.id}`);
  await signIn(sam);
  await sam.locator('[data-testid="connection-status"][data-state="open"]').waitFor();
  await sam.getByTestId("status-select").selectOption({ label: "Available" });
  await sam.locator('[data-testid="status-select"][data-status="AVAILABLE"]').waitFor();

  // Dana hands the chat over with a note.
  const secret = "Refund approved by finance, ticket 9981";
  await dana.getByTestId("transfer-open").click();
  await dana.locator('[data-testid="transfer-to"] option', { hasText: "Sam" }).waitFor({ state: "attached" });
  await dana.getByTestId("transfer-to").selectOption(samAgent.id);
  await dana.getByTestId("transfer-note").fill(secret);
  await dana.getByTestId("transfer-submit").click();
  await dana.getByTestId("composer-hint").filter({ hasText: "You handed this chat to Sam." }).waitFor();

  // Sam's console opens the chat with its history and Dana's note.
  const pane = sam.locator(`[data-testid="chat-panel"][data-chat-id="${chatId}"]`);
  await pane.waitFor();
  await consoleMessage(sam, first).waitFor();
  await consoleMessage(sam, question).waitFor();
  await pane.getByTestId("note").filter({ hasText: secret }).waitFor();
  assert.match(await pane.getByTestId("note").first().textContent(), /Only agents see this/);
  await pane.getByTestId("chat-event").filter({ hasText: "handed the chat to you" }).waitFor();

  // The widget names Sam, in the header and the log.
  await widget(visitor).locator(".log", { hasText: "Sam has taken over." }).waitFor();
  assert.equal(await widgetTitle(visitor).textContent(), "Sam");

  // Sam answers, and adds a note of his own.
  const answer = "Sam here: your refund is on its way.";
  await consoleSend(sam, answer);
  await widgetMessage(visitor, answer).waitFor();
  const samNote = "Customer happy, no follow-up needed";
  await pane.getByTestId("mode-note").click();
  await consoleSend(sam, samNote);
  await pane.getByTestId("note").filter({ hasText: samNote }).waitFor();
  // Notes reach the agents live: Dana, still on the chat's tab, gets Sam's.
  await dana.getByTestId("note").filter({ hasText: samNote }).waitFor();
  await pane.getByTestId("mode-message").click();
  const last = "Anything else?";
  await consoleSend(sam, last);
  await widgetMessage(visitor, last).waitFor();

  // The stream delivers in order: had a note been sent, it would be in by now.
  const shown = await widget(visitor).evaluate((el) => el.shadowRoot.textContent);
  assert.ok(!shown.includes(secret), "the widget shows Dana's note");
  assert.ok(!shown.includes(samNote), "the widget shows Sam's note");
  // Nor does a reload (the chat drawn again from its events).
  await visitor.reload();
  await widgetMessage(visitor, last).waitFor();
  const again = await widget(visitor).evaluate((el) => el.shadowRoot.textContent);
  assert.ok(!again.includes(secret) && !again.includes(samNote), "the reloaded widget shows a note");
  assert.equal(await widgetTitle(visitor).textContent(), "Sam");
});
