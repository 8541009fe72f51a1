// Issue 18: canned replies. An admin adds one to the site; the agent types
// its shortcut in a chat, picks it and sends it with the placeholders
// filled in.

import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  DEMO_SITE,
  agentStartsChat,
  consoleMessage,
  openConsole,
  scenario,
  screenshotsDir,
  widgetMessage,
} from "./harness.mjs";

scenario("canned replies: /price inserts the site's text with the names filled in", async (ctx) => {
  await ctx.api.post(`/v1/sites/${DEMO_SITE}/canned-replies`, {
    shortcut: "/price",
    title: "Prices",
    text: "Hi {visitor.name}, I am {agent.name}: our lamps start at 49 €.",
  });
  await ctx.api.post(`/v1/sites/${DEMO_SITE}/canned-replies`, { shortcut: "/hello", title: "Hello", text: "Hello!" });
  const { agent, visitor } = await agentStartsChat(ctx, { firstMessage: "Welcome!" });

  const input = agent.getByTestId("message-input");
  await input.fill("/pr");
  const options = agent.getByTestId("canned-option");
  await options.first().waitFor();
  assert.deepEqual(await options.evaluateAll((els) => els.map((el) => el.dataset.shortcut)), ["/price"]);
  // A screenshot for the README: the picker open in the chat tab.
  await mkdir(screenshotsDir, { recursive: true });
  await agent.screenshot({ path: join(screenshotsDir, "canned.png") });
  await input.press("Tab");
  const text = "Hi there, I am Dana (demo agent): our lamps start at 49 €.";
  assert.equal(await input.inputValue(), text);
  await agent.getByTestId("canned-picker").waitFor({ state: "detached" });
  await input.press("Enter");
  await consoleMessage(agent, text).waitFor();
  await widgetMessage(visitor, text).waitFor();
});

scenario("canned replies: managed on the admin page with the admin API key, the server's field errors shown", async (ctx) => {
  const { base, api, server } = ctx;
  const page = await ctx.open("admin");
  await openConsole(page, base, { available: false });
  await page.getByTestId("nav-admin").click();
  await page.getByTestId("admin-key-input").fill(server.adminKey);
  await page.getByTestId("admin-key-save").click();
  await page.getByTestId("admin-key-status").waitFor();
  await page.locator(`[data-testid="site-item"][data-site-id="${DEMO_SITE}"]`).click();
  const section = page.getByTestId("canned-replies");

  // A shortcut the server refuses: its error beside the field, nothing saved.
  await section.getByTestId("canned-shortcut").fill("/Price!");
  await section.getByTestId("canned-title").fill("Prices");
  await section.getByTestId("canned-text").fill("Hi {visitor.name}, from 49 €.");
  await section.getByTestId("canned-save").click();
  await section.locator('[data-testid="canned-shortcut"][aria-invalid="true"]').waitFor();
  assert.deepEqual((await api.get(`/v1/sites/${DEMO_SITE}/canned-replies`)).cannedReplies ?? [], []);

  await section.getByTestId("canned-shortcut").fill("/price");
  await section.getByTestId("canned-save").click();
  await section.locator('[data-testid="canned-row"][data-shortcut="/price"]').waitFor();
  const stored = (await api.get(`/v1/sites/${DEMO_SITE}/canned-replies`)).cannedReplies;
  assert.deepEqual(
    stored.map((r) => [r.shortcut, r.title, r.text]),
    [["/price", "Prices", "Hi {visitor.name}, from 49 €."]],
  );

  await section.locator('[data-testid="canned-row"][data-shortcut="/price"]').getByRole("button", { name: "Delete" }).click();
  await section.locator('[data-testid="canned-row"]').waitFor({ state: "detached" });
  assert.deepEqual((await api.get(`/v1/sites/${DEMO_SITE}/canned-replies`)).cannedReplies ?? [], []);
});
