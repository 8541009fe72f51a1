// The console's sign-in: a wrong password is refused with a message, the
// right one opens the console, Sign out comes back to the sign-in screen
// (and ends the session on the server), and a session revoked through the
// admin API sends the open console back to the sign-in screen.

import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  AGENT,
  AGENT_NAME,
  AGENT_PASSWORD,
  axe,
  eventually,
  formatViolations,
  restClient,
  scenario,
  screenshotsDir,
  signIn,
} from "./harness.mjs";

const SESSION_KEY = "proactivechat.console.session";
const DEMO_LOGIN = "agent@demo.example"; // app.DemoAgentLogin

// Issue 18, 10: agents sign in with their e-mail; the generated agent id
// is the server's business.
scenario("sign-in by e-mail: no agent id asked, an unknown e-mail refused like a wrong password", async (ctx) => {
  const { base } = ctx;
  const page = await ctx.open("agent");
  await page.goto(`${base}/agent/`);
  await page.getByTestId("signin-form").waitFor();
  assert.equal(await page.getByLabel("Agent id", { exact: true }).count(), 0, "the sign-in screen asks for an agent id");
  const email = page.getByLabel("E-mail", { exact: true });
  assert.equal(await page.evaluate(() => document.activeElement?.id), "login");
  const { serious } = await axe(page);
  assert.deepEqual(serious, [], formatViolations("sign-in screen", serious));
  await email.fill(DEMO_LOGIN);
  await mkdir(screenshotsDir, { recursive: true });
  await page.screenshot({ path: join(screenshotsDir, "signin.png") });

  const password = page.getByLabel("Password", { exact: true });
  for (const login of ["nobody@demo.example", DEMO_LOGIN]) {
    await email.fill(login);
    await password.fill(login === DEMO_LOGIN ? "not-the-password" : AGENT_PASSWORD);
    const answered = page.waitForResponse((r) => r.url().endsWith("/proactivechat.v1.AgentService/SignIn"));
    await password.press("Enter");
    assert.equal((await answered).status(), 401, `signing in as ${login}`);
    await page.getByTestId("signin-error").filter({ hasText: "Wrong e-mail or password." }).waitFor();
  }
  await email.fill(DEMO_LOGIN.toUpperCase());
  await password.fill(AGENT_PASSWORD);
  await password.press("Enter");
  await page.locator('[data-testid="connection-status"][data-state="open"]').waitFor();
  assert.equal(await page.getByTestId("agent-name").textContent(), AGENT_NAME);
  const session = await page.evaluate((k) => JSON.parse(sessionStorage.getItem(k)), SESSION_KEY);
  assert.equal(session.agentId, AGENT, "the console learnt the agent's id from SignIn");
});

scenario("sign-in: wrong password, right password, sign out, and a revoked session", async (ctx) => {
  const { base, api } = ctx;
  const page = await ctx.open("agent");
  await page.goto(`${base}/agent/?agent=${AGENT}`);
  const form = page.getByTestId("signin-form");
  const live = page.locator('[data-testid="connection-status"][data-state="open"]');
  await form.waitFor();
  // The agent id is filled in from ?agent=, and the cursor is in the password field.
  assert.equal(await page.getByLabel("Agent id", { exact: true }).inputValue(), AGENT);
  assert.equal(await page.evaluate(() => document.activeElement?.id), "password");
  const { serious } = await axe(page);
  assert.deepEqual(serious, [], formatViolations("sign-in screen", serious));

  // A wrong password: a message, the password emptied, still the sign-in screen.
  await signIn(page, "not-the-password");
  await page.getByTestId("signin-error").filter({ hasText: "Wrong agent id or password." }).waitFor();
  assert.equal(await page.getByRole("alert").filter({ hasText: "Wrong agent id or password." }).count(), 1);
  assert.equal(await page.getByLabel("Password", { exact: true }).inputValue(), "");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "password");

  // The right one opens the console.
  await signIn(page);
  await live.waitFor();
  await form.waitFor({ state: "detached" });
  const token = await page.evaluate((k) => JSON.parse(sessionStorage.getItem(k)).token, SESSION_KEY);
  assert.match(token, /^pcs_/);

  // Sign out: back to the sign-in screen, and the session is over on the server too.
  await page.getByRole("button", { name: "Sign out" }).click();
  await form.waitFor();
  assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), SESSION_KEY), null);
  await eventually(async () => {
    const err = await restClient(base, token).get(`/v1/agents/${AGENT}`).then(() => null, (e) => e);
    assert.equal(err?.status, 401, "the signed-out session no longer works");
  });

  // Signed in again, the session is revoked by an admin: the open console
  // goes back to the sign-in screen and says why.
  await signIn(page);
  await live.waitFor();
  const { revoked } = await api.delete(`/v1/agents/${AGENT}/sessions`);
  assert.equal(revoked, 1);
  await page.getByTestId("signin-notice").filter({ hasText: "Your session has ended" }).waitFor();
  await form.waitFor();
  // The console forgot the session: a reload stays on the sign-in screen.
  await page.reload();
  await form.waitFor();
  assert.equal(await page.getByTestId("connection-status").count(), 0);
});
