// Supervisors: an agent who supervises site_demo (and serves no site) opens
// the Supervise page, sees the live chat with its agent, follows it
// read-only as new messages arrive, and whispers to the agent. The agent's
// chat tab shows the whisper; the visitor's widget never does.

import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  AGENT_NAME,
  DEMO_SITE,
  agentStartsChat,
  axe,
  consoleMessage,
  consoleSend,
  formatViolations,
  panel,
  scenario,
  screenshotsDir,
  signIn,
  widgetMessage,
  widgetSend,
} from "./harness.mjs";

scenario("supervisor: sees the live chat, reads it as it happens, whispers to the agent only", async (ctx) => {
  const { base, server } = ctx;
  const hello = "Hi! I'm Dana, how can I help?";
  const { agent, visitor, chatId } = await agentStartsChat(ctx, { firstMessage: hello });

  // An admin makes Sam a supervisor of the demo site.
  const sam = (
    await server.api.post("/v1/agents", { displayName: "Sam", supervisedSiteIds: [DEMO_SITE], login: "sam@demo.example" })
  ).agent;
  assert.deepEqual(sam.supervisedSiteIds, [DEMO_SITE]);
  const password = "sam-supervises";
  await server.api.post(`/v1/agents/${sam.id}/password`, { password });
  // Dana is no supervisor: no Supervise entry in her console.
  assert.equal(await agent.getByTestId("nav-supervise").count(), 0);

  const sup = await ctx.open("supervisor");
  await sup.goto(`${base}/agent/?agent=${sam.id}`);
  await signIn(sup, password);
  await sup.locator('[data-testid="connection-status"][data-state="open"]').waitFor();
  await sup.getByTestId("nav-supervise").click();

  // The live chat, with its agent; watching it shows what was said.
  const row = sup.locator(`[data-testid="live-chat"][data-chat-id="${chatId}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), new RegExp(AGENT_NAME.replace(/[()]/g, "\\$&")));
  await row.getByTestId("watch-chat").click();
  const viewer = sup.locator(`[data-testid="chat-viewer"][data-chat-id="${chatId}"]`);
  const viewerMessage = (text) => viewer.locator('[data-testid="message"]', { hasText: text });
  await viewerMessage(hello).waitFor();
  const { serious } = await axe(sup);
  assert.deepEqual(serious, [], formatViolations("the Supervise page", serious));

  // A new message arrives in the viewer as it happens.
  const question = "Do you ship to Norway?";
  await widgetSend(visitor, question);
  await viewerMessage(question).waitFor();
  await consoleMessage(agent, question).waitFor();

  // The whisper: in the agent's chat tab, styled as such, and in the viewer.
  const secret = "Offer free shipping to Norway";
  await sup.getByTestId("whisper-input").fill(secret);
  await sup.getByTestId("whisper-send").click();
  const agentWhisper = agent.locator('[data-testid="chat-panel"] [data-testid="whisper"]', { hasText: secret });
  await agentWhisper.waitFor();
  assert.match(await agentWhisper.textContent(), /Whisper from Sam/);
  await viewer.locator('[data-testid="whisper"]', { hasText: secret }).waitFor();

  // The agent answers; the widget shows the answer and never the whisper.
  const answer = "Yes, and shipping to Norway is free";
  await consoleSend(agent, answer);
  await widgetMessage(visitor, answer).waitFor();
  await viewerMessage(answer).waitFor();
  // A screenshot for the README: the chat followed, the whisper in it, the whisper box.
  await mkdir(screenshotsDir, { recursive: true });
  await sup.screenshot({ path: join(screenshotsDir, "supervise.png") });
  const shown = await panel(visitor).innerText();
  assert.ok(!shown.includes(secret), `the widget shows the whisper:\n${shown}`);
  assert.ok(!shown.includes("Sam"), `the widget shows the supervisor:\n${shown}`);

  // Reloading the agent's console brings the whisper back (ListWhispers).
  await agent.reload();
  await agent.locator('[data-testid="connection-status"][data-state="open"]').waitFor();
  await agent.locator('[data-testid="chat-panel"] [data-testid="whisper"]', { hasText: secret }).waitFor();
});
