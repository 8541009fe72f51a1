// The console's sign-in: a wrong password is refused with a message, the
// right one opens the console, Sign out comes back to the sign-in screen
// (and ends the session on the server), and a session revoked through the
// admin API sends the open console back to the sign-in screen.

import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { AGENT, axe, eventually, formatViolations, restClient, scenario, screenshotsDir, signIn } from "./harness.mjs";

const SESSION_KEY = "proactivechat.console.session";

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
  await mkdir(screenshotsDir, { recursive: true });
  await page.screenshot({ path: join(screenshotsDir, "signin.png") });

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
