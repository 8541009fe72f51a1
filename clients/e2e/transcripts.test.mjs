// Chat history: a chat taken in one browser is found on the Transcripts
// page of another (a fresh session that never saw it), by the visitor's
// name or e-mail from the form, with the filters; its transcript opens and
// downloads. The REST API downloads the same text.

import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  AGENT_NAME,
  acceptAlert,
  alertFor,
  axe,
  bothLeave,
  consoleMessage,
  formatViolations,
  consoleSend,
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

scenario("transcripts: a chat taken elsewhere is listed, found by the visitor's name, and downloads", async (ctx) => {
  const { base, server } = ctx;

  // A chat with a form (mode 1), taken and ended in one console.
  const agent = await ctx.open("agent");
  await openConsole(agent, base);
  const visitor = await ctx.open("visitor");
  const visitorId = await visit(visitor, `${base}/demo/invite/`);
  await widgetButton(visitor, "Yes").click();
  await widgetTitle(visitor).filter({ hasText: "Before we start" }).waitFor();
  const w = widget(visitor);
  await w.locator("#pc-f-name").fill("Grace Hopper");
  await w.locator("#pc-f-email").fill("grace@example.com");
  await widgetButton(visitor, "Send").click();
  await alertFor(agent, visitorId).waitFor();
  const chatId = await acceptAlert(agent, visitorId);
  const hello = "Hello Grace! How can I help?";
  await consoleSend(agent, hello);
  await widgetMessage(visitor, hello).waitFor();
  await consoleMessage(agent, hello).waitFor();
  const answer = "Which compiler do you ship?";
  await widgetSend(visitor, answer);
  await consoleMessage(agent, answer).waitFor();
  await bothLeave(ctx, { agent, visitor, chatId });

  // The same agent signs in on another computer: nothing of the chat is
  // in this browser, the Transcripts page lists it from the server.
  const later = await ctx.open("agent-later", { acceptDownloads: true });
  await openConsole(later, base, { available: false });
  await later.getByTestId("nav-transcripts").click();
  const item = later.locator(`[data-testid="transcript-item"][data-chat-id="${chatId}"]`);
  await item.waitFor();
  assert.match(await item.textContent(), /Grace Hopper <grace@example\.com>/);
  assert.match(await item.textContent(), /both left/);

  // Search by e-mail and by name; a search nobody matches; the state filter.
  const search = async (text) => {
    await later.getByTestId("filter-query").fill(text);
    await later.getByTestId("filter-query").press("Enter");
  };
  await search("nobody-like-this");
  await later.getByText("No chats match.").waitFor();
  await search("GRACE@example");
  await item.waitFor();
  await search("hopper");
  await item.waitFor();
  await later.getByTestId("filter-state").selectOption("active");
  await later.getByText("No chats match.").waitFor();
  await later.getByTestId("filter-state").selectOption("ended");
  await item.waitFor();

  // Opening it shows its events; the transcript downloads as a text file.
  await item.click();
  const pane = later.locator(`[data-testid="transcript"][data-chat-id="${chatId}"]`);
  await pane.getByText(hello).waitFor();
  const { serious } = await axe(later);
  assert.deepEqual(serious, [], formatViolations("the Transcripts page", serious));
  // A screenshot for the README: the list with the chat open.
  await mkdir(screenshotsDir, { recursive: true });
  await later.screenshot({ path: join(screenshotsDir, "transcripts.png") });
  const [download] = await Promise.all([later.waitForEvent("download"), pane.getByTestId("download-transcript").click()]);
  assert.equal(download.suggestedFilename(), `transcript-${chatId}.txt`);
  const text = await readFile(await download.path(), "utf8");
  for (const want of [
    `Chat: ${chatId}\n`,
    "End reason: both left\n",
    `Agent: ${AGENT_NAME} (`,
    "Visitor: Grace Hopper <grace@example.com>",
    "  Your name: Grace Hopper\n",
    "  E-mail: grace@example.com\n",
    `] ${AGENT_NAME}: ${hello}\n`,
    `] Grace Hopper: ${answer}\n`,
    "] Chat ended: both left\n",
  ]) {
    assert.ok(text.includes(want), `the downloaded transcript lacks ${JSON.stringify(want)}:\n${text}`);
  }

  // REST: GET /v1/chats lists it; GET /v1/chats/{id}/transcript downloads the same text.
  const listed = await server.api.get(`/v1/chats?siteId=site_demo_invite&query=grace`);
  assert.deepEqual(
    listed.chats.map((c) => c.chat.id),
    [chatId],
  );
  const res = await fetch(`${base}/v1/chats/${chatId}/transcript`, { headers: { authorization: `Bearer ${server.adminKey}` } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.match(res.headers.get("content-disposition") ?? "", /^attachment; filename=/);
  assert.equal(await res.text(), text);
});
