// The console's admin page manages webhook endpoints: one is added (its
// secret shown once), pinged, and a real event of the log reaches a
// receiver on loopback, signed as Standard Webhooks says; the delivery
// shows in the page's list.

import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { eventually, openConsole, scenario } from "./harness.mjs";

/** verify checks a Standard Webhooks signature as a receiver in Node would. */
function verify(secret, headers, body) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const signed = `${headers["webhook-id"]}.${headers["webhook-timestamp"]}.${body}`;
  const expected = Buffer.from(createHmac("sha256", key).update(signed).digest("base64"));
  return headers["webhook-signature"].split(" ").some((s) => {
    const sig = Buffer.from(s.replace(/^v1,/, ""));
    return sig.length === expected.length && timingSafeEqual(sig, expected);
  });
}

scenario("admin page: a webhook endpoint is added, pinged, and receives signed events", async (ctx) => {
  const { base, server } = ctx;
  const received = [];
  const receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  ctx.t.after(() => receiver.close());
  const url = `http://127.0.0.1:${receiver.address().port}/hooks`;

  const agent = await ctx.open("agent");
  await openConsole(agent, base, { available: false });
  await agent.getByTestId("nav-admin").click();
  await agent.getByTestId("admin-key-input").fill(server.adminKey);
  await agent.getByTestId("admin-key-save").click();
  await agent.getByTestId("admin-key-status").waitFor();
  await agent.locator('[data-testid="webhooks"] > summary').click();
  await agent.getByTestId("webhook-url").fill(url);
  await agent.getByTestId("webhook-types").fill("agent.status_changed");
  await agent.getByTestId("webhook-create").click();
  const secret = /whsec_\S+/.exec(await agent.getByTestId("webhook-secret").textContent())[0];
  await agent.locator('[data-testid="webhook-item"]').filter({ hasText: url }).waitFor();

  await agent.getByTestId("webhook-ping").click();
  assert.match(await agent.getByTestId("webhook-ping-result").textContent(), /204 OK/);
  const ping = received.find((r) => r.headers["webhook-id"].startsWith("ping_"));
  assert.ok(ping && verify(secret, ping.headers, ping.body), "the ping is signed with the secret");
  assert.equal(JSON.parse(ping.body).type, "webhook.ping");

  // The agent goes Available: an agent.status_changed event of the log.
  await agent.getByTestId("status-select").selectOption({ label: "Available" });
  await agent.locator('[data-testid="status-select"][data-status="AVAILABLE"]').waitFor();
  const ev = await eventually(() => {
    const r = received.find((x) => x.headers["webhook-id"].startsWith("evt_"));
    assert.ok(r, "an event delivered");
    return r;
  });
  assert.ok(verify(secret, ev.headers, ev.body), "the event is signed with the secret");
  assert.equal(JSON.parse(ev.body).type, "agent.status_changed");

  await agent.getByTestId("webhook-show-deliveries").click();
  await agent.locator('[data-testid="webhook-delivery"]').filter({ hasText: "agent.status_changed" }).first().waitFor();
});
