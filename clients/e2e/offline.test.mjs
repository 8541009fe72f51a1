// Business hours and "Leave a message": on a site closed today (a
// holiday), the widget launches nothing and offers to leave a message
// instead; the visitor leaves one; the console's Messages page shows it
// with its unhandled count, and the agent marks it handled.

import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { AGENT, DEMO_SITE, openConsole, scenario, screenshotsDir, visit, widget, widgetButton, widgetTitle } from "./harness.mjs";

scenario("offline: a closed site offers the message form; the message reaches the console and is marked handled", async (ctx) => {
  const { base, api } = ctx;
  const day = (offset) => new Date(Date.now() + offset * 86400_000).toISOString().slice(0, 10);
  await api.patch(`/v1/sites/${DEMO_SITE}?update_mask=business_hours`, {
    businessHours: {
      timeZone: "UTC",
      weekly: [{ dayOfWeek: "DAY_OF_WEEK_MONDAY", open: "00:00", close: "24:00" }],
      holidays: [{ startDate: day(-1), endDate: day(1), name: "Closed for the test" }],
    },
  });

  const visitor = await ctx.open("visitor");
  const visitorId = await visit(visitor, `${base}/demo/`);
  const w = widget(visitor);
  const launcher = widgetButton(visitor, "Leave a message");
  await launcher.waitFor();
  await launcher.click();
  await widgetTitle(visitor).filter({ hasText: "Leave a message" }).waitFor();
  await widgetButton(visitor, "Send").click();
  await w.locator("#pc-e-email").filter({ hasText: "E-mail is required" }).waitFor();
  await w.locator("#pc-f-name").fill("Grace Hopper");
  await w.locator("#pc-f-email").fill("grace@example.com");
  await w.locator("#pc-f-text").fill("Do you have the compiler book in stock?");
  // The README shows this screen; the browser tests keep it current.
  await mkdir(screenshotsDir, { recursive: true });
  await visitor.screenshot({ path: join(screenshotsDir, "widget-message.png") });
  await widgetButton(visitor, "Send").click();
  await widgetTitle(visitor).filter({ hasText: "Message sent" }).waitFor();
  // Closed: the launching criteria (1 s) passed and nobody was alerted.
  assert.deepEqual(await api.queue(DEMO_SITE), []);

  const agent = await ctx.open("agent");
  await openConsole(agent, base, { available: false });
  await agent.getByTestId("messages-badge").filter({ hasText: "1" }).waitFor();
  await agent.getByTestId("nav-messages").click();
  const item = agent.getByTestId("offline-message").filter({ hasText: "Grace Hopper" });
  await item.waitFor();
  const text = await item.textContent();
  assert.match(text, /grace@example\.com/);
  assert.match(text, /Do you have the compiler book in stock\?/);
  assert.match(text, /\/demo\//);
  await agent.screenshot({ path: join(screenshotsDir, "messages.png") });
  await item.getByTestId("mark-handled").click();
  await agent.getByText("No messages.").waitFor();
  await agent.getByTestId("messages-badge").waitFor({ state: "detached" });
  await agent.getByTestId("messages-state").selectOption("handled");
  const handled = agent.getByTestId("offline-message").filter({ hasText: "Grace Hopper" });
  await handled.getByTestId("handled-note").filter({ hasText: `Handled by ${AGENT}` }).waitFor();

  // Stored with the visitor: the REST list says the same.
  const list = await (await api.asAgent()).get(`/v1/sites/${DEMO_SITE}/offline-messages`);
  assert.equal(list.messages.length, 1);
  assert.equal(list.messages[0].visitorId, visitorId);
  assert.equal(list.messages[0].state, "OFFLINE_MESSAGE_STATE_HANDLED");
});
