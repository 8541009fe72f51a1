// The browser tests' harness: the server (built once per `node --test` run,
// started fresh for every test on a free port with a temporary database and
// the demo sites), Chromium, the REST admin API (with the admin API key the
// new database's server prints), and helpers for the widget (in its Shadow
// DOM) and the agent console (signed in as the demo agent).
//
// Every test is a `scenario`: it gets its own server and browser contexts,
// and when it fails each of its pages is saved to
// e2e/artifacts/<test>-<page>.png, with the server's log beside them.

import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, test } from "node:test";
import { setTimeout as pause } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const clientsDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const repoRoot = resolve(clientsDir, "..");
export const artifactsDir = join(clientsDir, "e2e", "artifacts");
export const screenshotsDir = join(repoRoot, "docs", "screenshots");
const axePath = join(clientsDir, "node_modules", "axe-core", "axe.min.js");

export const DEMO_SITE = "site_demo"; // without invite
export const INVITE_SITE = "site_demo_invite"; // with invite and a form
export const AGENT = "agent_demo";
export const AGENT_NAME = "Dana (demo agent)";
export const AGENT_PASSWORD = "demo-agent"; // app.DemoAgentPassword

/** How long a UI state may take to appear (Playwright's auto-waiting). */
export const UI_TIMEOUT = 15_000;

// ---------------------------------------------------------------------------
// The server binary: built once per run.

// `node --test` runs each file in its own process, all children of the
// runner; they share one build named after the runner (its pid and start
// time, so a later runner that gets the same pid never sees a stale build).
function processKey(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return `${pid}-${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}`;
  } catch {
    return "";
  }
}

const runnerKey = () => (process.env.NODE_TEST_CONTEXT ? processKey(process.ppid) : "");

// Builds of runners that are gone are removed.
async function removeStaleBuilds() {
  for (const name of await readdir(tmpdir()).catch(() => [])) {
    const m = /^proactivechat-e2e-bin-(\d+)-(\d+)$/.exec(name);
    if (m && processKey(Number(m[1])) !== `${m[1]}-${m[2]}`) {
      await rm(join(tmpdir(), name), { recursive: true, force: true }).catch(() => {});
    }
  }
}

function run(cmd, args, opts) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { ...opts, stdio: ["ignore", "inherit", "inherit"] });
    p.on("error", reject);
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}`))));
  });
}

let binary;
/** serverBinary builds ./server/cmd/proactivechat (once per run) and returns its path. */
export function serverBinary() {
  binary ??= (async () => {
    if (process.env.PROACTIVECHAT_E2E_BIN) return process.env.PROACTIVECHAT_E2E_BIN;
    await removeStaleBuilds();
    const key = runnerKey();
    let dir;
    if (key) {
      dir = join(tmpdir(), `proactivechat-e2e-bin-${key}`);
      if (existsSync(join(dir, "proactivechat"))) return join(dir, "proactivechat");
      await mkdir(dir, { recursive: true });
    } else {
      dir = await mkdtemp(join(tmpdir(), "proactivechat-e2e-own-"));
      process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    }
    const bin = join(dir, "proactivechat");
    const tmp = `${bin}.${process.pid}.tmp`;
    await run("go", ["build", "-o", tmp, "./server/cmd/proactivechat"], { cwd: repoRoot });
    await rename(tmp, bin); // atomic: a sibling never runs a half-written file
    return bin;
  })();
  return binary;
}

// ---------------------------------------------------------------------------
// The server: one per test, on 127.0.0.1 with a free port, a temporary
// database and the demo sites and agent.

// The block the server prints on stderr when it makes the first admin API
// key of a new database: the key is alone on an indented line.
const initialKeyPattern = /This is a new database, so an admin API key was made[\s\S]*?\n {2}(pca_\S+)\n/;

/**
 * startServer starts the server and resolves once GET / answers, with its
 * base URL, a REST client using the admin API key it printed (adminKey),
 * its log and stop.
 */
export async function startServer() {
  const bin = await serverBinary();
  const dir = await mkdtemp(join(tmpdir(), "proactivechat-e2e-data-"));
  // Port 0: the kernel picks a free port; the server logs which.
  // Webhooks may go to receivers the tests run on loopback, over http.
  const proc = spawn(bin, ["-addr", "127.0.0.1:0", "-db", join(dir, "pc.db"), "-demo", "-webhooks-allow-http", "-webhooks-allow-private"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  let exited = false;
  const exit = new Promise((resolve) => proc.on("exit", (code, signal) => {
    exited = true;
    resolve({ code, signal });
  }));
  const started = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      log += chunk;
      // "msg=serving addr=127.0.0.1:PORT" (slog), logged after the key.
      const addr = /msg=serving addr=(\S+)/.exec(log);
      if (addr) {
        const key = initialKeyPattern.exec(log);
        if (key) resolve({ hostPort: addr[1], adminKey: key[1] });
        else reject(new Error(`the server did not print an admin API key for its new database:\n${log}`));
      }
    };
    proc.stdout.setEncoding("utf8").on("data", onData);
    proc.stderr.setEncoding("utf8").on("data", onData);
    proc.on("error", reject);
    exit.then(({ code }) => reject(new Error(`the server exited (${code}) before serving:\n${log}`)));
  });
  /** stop sends SIGTERM and resolves with how the server exited. */
  const stop = async () => {
    if (!exited) proc.kill("SIGTERM");
    const killer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
    const result = await exit;
    clearTimeout(killer);
    if (result.code !== 0) log += `\n[e2e] server exit code ${result.code} signal ${result.signal}\n`;
    await rm(dir, { recursive: true, force: true });
    return result;
  };
  try {
    const { hostPort, adminKey } = await withTimeout(started, 15_000, "the server did not log its address");
    const base = `http://${hostPort}`;
    // Waiting for a process to start: poll until it answers.
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        const res = await fetch(`${base}/`);
        await res.arrayBuffer();
        if (res.status < 500) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`GET ${base}/ did not answer:\n${log}`);
      await pause(50);
    }
    return { base, adminKey, api: restClient(base, adminKey), log: () => log, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

// ---------------------------------------------------------------------------
// REST (grpc-gateway): JSON in and out, errors thrown with the body and the
// HTTP status (err.status).

/** restClient calls the REST API with "Authorization: Bearer <token>" (none when token is empty). */
export function restClient(base, token = "") {
  const call = async (method, path, body) => {
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) {
      throw Object.assign(new Error(`${method} ${path}: HTTP ${res.status} ${text}`), { status: res.status });
    }
    return text ? JSON.parse(text) : {};
  };
  return {
    get: (path) => call("GET", path),
    post: (path, body = {}) => call("POST", path, body),
    put: (path, body = {}) => call("PUT", path, body),
    patch: (path, body = {}) => call("PATCH", path, body),
    delete: (path) => call("DELETE", path),
    /** asAgent signs the agent in (SignIn) and returns a client with its session, for the calls only an agent makes. */
    asAgent: async (agentId = AGENT, password = AGENT_PASSWORD) =>
      restClient(base, (await restClient(base).post(`/v1/agents/${agentId}/sign-in`, { password })).token),
    /** The site's online visitors (ListOnlineVisitors). */
    visitors: async (siteId) => (await call("GET", `/v1/sites/${siteId}/visitors`)).visitors ?? [],
    visitor: async (siteId, visitorId) =>
      ((await call("GET", `/v1/sites/${siteId}/visitors`)).visitors ?? []).find((v) => v.visitorId === visitorId),
    queue: async (siteId) => (await call("GET", `/v1/sites/${siteId}/queue`)).chatRequests ?? [],
    chat: async (chatId) => (await call("GET", `/v1/chats/${chatId}`)).chat,
    /** launchAfter sets a site's launch_after_seconds (PATCH with an update_mask). */
    launchAfter: (siteId, seconds) =>
      call("PATCH", `/v1/sites/${siteId}?update_mask=proactive_chat.launch_after_seconds`, {
        proactiveChat: { launchAfterSeconds: seconds },
      }),
  };
}

/**
 * eventually retries fn (which throws while its condition does not hold)
 * until it passes or the timeout runs out; for state read over REST. UI
 * states are waited for with Playwright's locators instead.
 */
export async function eventually(fn, { timeout = 10_000, interval = 50 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await pause(interval);
  }
}

// ---------------------------------------------------------------------------
// Chromium: one browser per test file, contexts per test.

let browser;
function sharedBrowser() {
  browser ??= chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return browser;
}
after(async () => {
  if (browser) await (await browser).close();
});

const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");

/** saveScreenshot saves page to e2e/artifacts/<name>.png (for a finding a test reports later). */
export async function saveScreenshot(page, name) {
  await mkdir(artifactsDir, { recursive: true });
  await page.screenshot({ path: join(artifactsDir, `${slug(name)}.png`), timeout: 5_000 }).catch(() => {});
}

/**
 * scenario is a test with its own server (demo sites launching after 1 s)
 * and a way to open browser pages; on failure each page is screenshotted
 * to e2e/artifacts/<test>-<page>.png and the server log saved.
 */
export function scenario(name, fn, { timeout = 60_000 } = {}) {
  test(name, { timeout }, async (t) => {
    const server = await startServer();
    const b = await sharedBrowser();
    const pages = new Map();
    const contexts = [];
    const notes = [];
    const ctx = {
      t,
      server,
      base: server.base,
      api: server.api,
      /** open creates a browser context (one per person) and its page. */
      async open(label, options = {}) {
        const context = await b.newContext({ viewport: { width: 1280, height: 800 }, ...options });
        context.setDefaultTimeout(UI_TIMEOUT);
        contexts.push(context);
        const page = await context.newPage();
        ctx.track(label, page);
        return page;
      },
      /** track adds a page to the ones saved when the test fails. */
      track(label, page) {
        pages.set(label, page);
        page.on("pageerror", (err) => notes.push(`[${label}] page error: ${err.message}`));
        page.on("console", (msg) => {
          if (msg.type() === "error" || msg.type() === "warning") notes.push(`[${label}] console.${msg.type()}: ${msg.text()}`);
        });
      },
    };
    const saveLog = () =>
      writeFile(
        join(artifactsDir, `${slug(name)}-server.log`),
        `${server.log()}\n--- browser ---\n${notes.join("\n")}\n`,
      ).catch(() => {});
    let failed = false;
    try {
      // Launching criteria of 1 s instead of the demo's 10 s.
      await server.api.launchAfter(DEMO_SITE, 1);
      await server.api.launchAfter(INVITE_SITE, 1);
      await fn(ctx);
    } catch (err) {
      failed = true;
      await mkdir(artifactsDir, { recursive: true });
      for (const [label, page] of pages) {
        if (page.isClosed()) continue;
        await page
          .screenshot({ path: join(artifactsDir, `${slug(name)}-${label}.png`), timeout: 5_000 })
          .catch(() => {});
      }
      await saveLog();
      throw err;
    } finally {
      for (const c of contexts) await c.close().catch(() => {});
      const { code, signal } = await server.stop();
      // SIGTERM is a graceful shutdown: it must end cleanly.
      if (!failed && code !== 0) {
        await mkdir(artifactsDir, { recursive: true });
        await saveLog();
        throw new Error(`the server did not shut down cleanly on SIGTERM (exit code ${code}, signal ${signal})`);
      }
    }
  });
}

// ---------------------------------------------------------------------------
// The visitor's widget: <proactive-chat-widget> with an open shadow root
// (Playwright's CSS locators pierce it).

export const widget = (page) => page.locator("proactive-chat-widget");
export const panel = (page) => widget(page).locator(".panel");
export const widgetTitle = (page) => widget(page).locator("#pc-title");
export const widgetButton = (page, name) => widget(page).getByRole("button", { name, exact: true });
/** Confirmed chat messages in the widget (not the ones still sending). */
export const widgetMessages = (page) => widget(page).locator(".log .msg:not(.pending)");

/**
 * visit loads url (reloads the page when url is null) and resolves with
 * the visitor id the widget's session got from StartVisitorSession.
 */
export async function visit(page, url) {
  const session = page.waitForResponse((r) => r.url().endsWith("/proactivechat.v1.VisitorService/StartVisitorSession"));
  if (url === null) await page.reload();
  else await page.goto(url);
  const res = await session;
  const body = await res.json();
  if (!body.visitor?.id) throw new Error(`StartVisitorSession answered ${JSON.stringify(body)}`);
  return body.visitor.id;
}

/** widgetSend writes text in the widget's chat and sends it with Enter. */
export async function widgetSend(page, text) {
  const box = widget(page).locator("#pc-msg");
  await box.fill(text);
  await box.press("Enter");
}

/** widgetMessage: the widget's confirmed messages containing text. */
export const widgetMessage = (page, text) => widgetMessages(page).filter({ hasText: text });

// ---------------------------------------------------------------------------
// The agent console.

/**
 * signIn fills in the console's sign-in screen (the agent id is already
 * there, from ?agent=) and submits it with Enter.
 */
export async function signIn(page, password = AGENT_PASSWORD) {
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Password", { exact: true }).press("Enter");
}

/**
 * openConsole opens the console, signs in as agent_demo and, by default,
 * sets the agent Available.
 */
export async function openConsole(page, base, { available = true } = {}) {
  await page.goto(`${base}/agent/?agent=${AGENT}`);
  await signIn(page);
  await page.locator('[data-testid="connection-status"][data-state="open"]').waitFor();
  if (available) {
    await page.getByTestId("status-select").selectOption({ label: "Available" });
    await page.locator('[data-testid="status-select"][data-status="AVAILABLE"]').waitFor();
  }
}

export const alertFor = (page, visitorId) => page.locator(`[data-testid="alert"][data-visitor-id="${visitorId}"]`);

/** acceptAlert accepts the alert for visitorId and resolves with the chat id of the tab it opens. */
export async function acceptAlert(page, visitorId) {
  const alert = alertFor(page, visitorId);
  await alert.getByTestId("accept-alert").click();
  await alert.waitFor({ state: "detached" });
  const pane = page.getByTestId("chat-panel");
  await pane.waitFor();
  const chatId = await pane.getAttribute("data-chat-id");
  if (!chatId) throw new Error("the chat panel has no data-chat-id");
  return chatId;
}

export const consoleMessages = (page) => page.locator('[data-testid="chat-panel"] [data-testid="message"]');
export const consoleMessage = (page, text) =>
  consoleMessages(page).filter({ has: page.locator(".msg-text", { hasText: text }) });

/** consoleSend writes text in the open chat and sends it with Enter. */
export async function consoleSend(page, text) {
  const input = page.getByTestId("message-input");
  await input.fill(text);
  await input.press("Enter");
}

// ---------------------------------------------------------------------------
// axe-core.

/**
 * axe runs axe-core on the page, or on the element matching selector with
 * its shadow root, and returns the serious and critical violations (in a
 * readable form) and how many nodes inside shadow roots it checked.
 */
export async function axe(page, selector) {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ path: axePath });
  const res = await page.evaluate(async (sel) => {
    const context = sel ? document.querySelector(sel) : document;
    if (!context) throw new Error(`axe: nothing matches ${sel}`);
    const r = await window.axe.run(context, { resultTypes: ["violations"] });
    const inShadow = (n) => n.target.some((t) => Array.isArray(t));
    return {
      violations: r.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => `${JSON.stringify(n.target)}: ${n.failureSummary}`),
      })),
      shadowNodes: [...r.passes, ...r.violations, ...r.incomplete].flatMap((x) => x.nodes).filter(inShadow).length,
    };
  }, selector ?? null);
  return {
    serious: res.violations.filter((v) => v.impact === "serious" || v.impact === "critical"),
    shadowNodes: res.shadowNodes,
  };
}

/** formatViolations makes an assertion message out of axe's violations. */
export function formatViolations(where, violations) {
  return `${where}: ${violations.length} serious/critical axe violation(s)\n${violations
    .map((v) => `- ${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join("\n    ")}`)
    .join("\n")}`;
}

// ---------------------------------------------------------------------------
// Whole steps shared by several tests.

/**
 * agentStartsChat is mode 2 (site_demo, without invite) up to an open
 * chat: the agent is Available in the console, a visitor (in its own
 * browser context) opens path, the agent is alerted after the launching
 * criteria (1 s), accepts and writes firstMessage, and the widget opens
 * with it.
 */
export async function agentStartsChat(ctx, { path = "/demo/", firstMessage, visitorOptions } = {}) {
  const agent = await ctx.open("agent");
  await openConsole(agent, ctx.base);
  const visitor = await ctx.open("visitor", visitorOptions);
  const visitorId = await visit(visitor, ctx.base + path);
  await alertFor(agent, visitorId).waitFor();
  const chatId = await acceptAlert(agent, visitorId);
  await consoleSend(agent, firstMessage);
  await consoleMessage(agent, firstMessage).waitFor();
  await widgetMessage(visitor, firstMessage).waitFor();
  return { agent, visitor, visitorId, chatId };
}

/** bothLeave closes the chat in the widget, then leaves it in the console; the chat ends (BOTH_LEFT). */
export async function bothLeave(ctx, { agent, visitor, chatId }) {
  await widgetButton(visitor, "Close").click();
  await widget(visitor).waitFor({ state: "hidden" });
  await agent.getByTestId("chat-event").filter({ hasText: "The visitor left the chat" }).waitFor();
  await agent.getByTestId("leave-chat").click();
  await agent.locator(`[data-testid="chat-panel"][data-chat-id="${chatId}"]`).waitFor({ state: "detached" });
  return eventually(async () => {
    const chat = await ctx.api.chat(chatId);
    if (chat.state !== "CHAT_STATE_ENDED") throw new Error(`chat ${chatId} is ${chat.state}, not ENDED`);
    return chat;
  });
}
