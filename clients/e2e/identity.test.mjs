// Who the visitor is: the page that embeds the widget says so
// (window.proactiveChatSettings before the script loads, and
// ProactiveChat("identify", …) after, e.g. when the visitor signs in), and
// the agent sees "Jane Doe", not "Visitor tlmzh6iq": in presence, in the
// alert and on the chat's tab. An external id signed with the site's
// identity secret shows as verified.

import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { DEMO_SITE, acceptAlert, alertFor, openConsole, scenario, visit } from "./harness.mjs";

const row = (page, visitorId) => page.locator(`[data-testid="visitor-row"][data-visitor-id="${visitorId}"]`);

scenario("identity: the page names the visitor, the console shows the name everywhere", async (ctx) => {
  const { base, api } = ctx;
  const { secret } = await api.post(`/v1/sites/${DEMO_SITE}/identity-secret:rotate`);
  // What the site's backend computes for the page.
  const identityHash = createHmac("sha256", secret).update("u-42").digest("hex");

  const agent = await ctx.open("agent");
  await openConsole(agent, base);
  const visitor = await ctx.open("visitor");
  await visitor.addInitScript(
    (identity) => {
      window.proactiveChatSettings = { identity };
    },
    { name: "Jane Doe", email: "jane@example.com", externalId: "u-42", identityHash, attributes: { plan: "pro" } },
  );
  const visitorId = await visit(visitor, `${base}/demo/`);

  const presence = row(agent, visitorId);
  await presence.getByTestId("visitor-name").filter({ hasText: "Jane Doe" }).waitFor();
  const details = presence.getByTestId("visitor-identity");
  await details.filter({ hasText: "jane@example.com" }).waitFor();
  assert.match(await details.textContent(), /id u-42.*verified.*plan.*pro/);
  assert.doesNotMatch(await details.textContent(), /unverified/);

  const alert = alertFor(agent, visitorId);
  await alert.locator("h2", { hasText: "Jane Doe is waiting" }).waitFor();
  await acceptAlert(agent, visitorId);
  await agent.getByTestId("chat-tab").filter({ hasText: "Jane Doe" }).waitFor();

  // Later the page says more (the visitor signed in as someone else): the
  // console follows at once, marked unverified.
  await visitor.evaluate(() => window.ProactiveChat("identify", { name: "Jane Q. Doe", attributes: { plan: "team" } }));
  await presence.getByTestId("visitor-name").filter({ hasText: "Jane Q. Doe" }).waitFor();
  await presence.getByTestId("visitor-identity").filter({ hasText: "unverified" }).waitFor();
  const online = await api.visitor(DEMO_SITE, visitorId);
  assert.equal(online.identity.name, "Jane Q. Doe");
  assert.deepEqual(online.identity.attributes, { plan: "team" });
  assert.equal(online.identity.verified, false);
});

scenario("identity: a wrong identity hash is left out, and the visitor still gets the widget", async (ctx) => {
  const { base, api } = ctx;
  await api.post(`/v1/sites/${DEMO_SITE}/identity-secret:rotate`);
  const agent = await ctx.open("agent");
  await openConsole(agent, base);
  const visitor = await ctx.open("visitor");
  const warnings = [];
  visitor.on("console", (m) => m.type() === "warning" && warnings.push(m.text()));
  await visitor.addInitScript(() => {
    window.proactiveChatSettings = { identity: { name: "Mallory", externalId: "u-1", identityHash: "00".repeat(32) } };
  });
  // The first StartVisitorSession is refused; the widget starts again without the identity.
  const started = visitor.waitForResponse((r) => r.url().endsWith(".VisitorService/StartVisitorSession") && r.ok());
  await visitor.goto(`${base}/demo/`);
  const visitorId = (await (await started).json()).visitor.id;
  await alertFor(agent, visitorId).waitFor();
  await row(agent, visitorId).getByTestId("visitor-name").filter({ hasText: /^Visitor / }).waitFor();
  const online = await api.visitor(DEMO_SITE, visitorId);
  assert.ok(!online.identity?.name, `the refused identity was stored: ${JSON.stringify(online.identity)}`);
  assert.ok(warnings.some((w) => w.includes("identity_hash")), `no warning about the identity hash: ${warnings}`);
});
