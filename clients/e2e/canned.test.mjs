// Issue 18: canned replies. An admin adds one to the site; the agent types
// its shortcut in a chat, picks it and sends it with the placeholders
// filled in.

import assert from "node:assert/strict";
import { DEMO_SITE, agentStartsChat, consoleMessage, scenario, widgetMessage } from "./harness.mjs";

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
  await input.press("Tab");
  const text = "Hi there, I am Dana (demo agent): our lamps start at 49 €.";
  assert.equal(await input.inputValue(), text);
  await agent.getByTestId("canned-picker").waitFor({ state: "detached" });
  await input.press("Enter");
  await consoleMessage(agent, text).waitFor();
  await widgetMessage(visitor, text).waitFor();
});
