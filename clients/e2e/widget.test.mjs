// The widget on a phone (375×667): the chat panel fits the screen. On the
// way, everything the widget downloads is recorded and its gzip -9 size
// reported.

import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import {
  acceptAlert,
  alertFor,
  bothLeave,
  consoleMessage,
  consoleSend,
  openConsole,
  panel,
  scenario,
  visit,
  widget,
  widgetMessage,
  widgetSend,
} from "./harness.mjs";

const PHONE = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

scenario("phone-sized viewport (375x667): the chat panel fits the width; what the widget downloads", async (ctx) => {
  const { base } = ctx;
  const agent = await ctx.open("agent");
  await openConsole(agent, base);
  const visitor = await ctx.open("visitor-phone", PHONE);

  // Everything the visitor's browser fetches that is not the shop's own
  // page or the API: what the widget costs a site.
  const downloads = new Map();
  visitor.on("response", (res) => {
    const url = new URL(res.url());
    if (url.origin !== base || url.pathname.startsWith("/demo/") || url.pathname.startsWith("/proactivechat.v1.")) return;
    downloads.set(url.pathname, res.body().catch(() => Buffer.alloc(0)));
  });

  const visitorId = await visit(visitor, `${base}/demo/`);
  await alertFor(agent, visitorId).waitFor();
  const chatId = await acceptAlert(agent, visitorId);
  const hello = "Hello! Can I help you find a lamp? Our Walnut Arc is on offer this week.";
  await consoleSend(agent, hello);
  await widgetMessage(visitor, hello).waitFor();
  // The agent's message opened the chat without popping up the keyboard.
  assert.notEqual(
    await widget(visitor).evaluate((host) => host.shadowRoot.activeElement?.id),
    "pc-msg",
    "unprompted, the chat does not take focus on a touch screen",
  );
  const answer = "Does it ship to Portugal?";
  await widgetSend(visitor, answer);
  await consoleMessage(agent, answer).waitFor();
  await widgetMessage(visitor, answer).waitFor();

  // The panel and what is in it fit the phone's width (and height).
  const box = await panel(visitor).boundingBox();
  assert.ok(box, "the chat panel is shown");
  assert.ok(box.x >= 0 && box.x + box.width <= 375 + 0.5, `the panel (x ${box.x}, width ${box.width}) fits 375 px`);
  assert.ok(box.y >= 0 && box.y + box.height <= 667 + 0.5, `the panel (y ${box.y}, height ${box.height}) fits 667 px`);
  for (const sel of ["#pc-msg", 'button[type="submit"]', 'button[aria-label="Close"]', ".log .msg"]) {
    const b = await widget(visitor).locator(sel).first().boundingBox();
    assert.ok(b && b.x >= 0 && b.x + b.width <= 375 + 0.5, `${sel} (x ${b?.x}, width ${b?.width}) is within the screen`);
  }
  assert.ok(
    await widget(visitor).evaluate((host) => {
      const log = host.shadowRoot.querySelector(".log");
      return log.scrollWidth <= log.clientWidth;
    }),
    "messages wrap: no sideways scrolling in the chat",
  );

  await bothLeave(ctx, { agent, visitor, chatId });

  const sizes = [];
  for (const [path, body] of downloads) {
    const bytes = await body;
    sizes.push({ path, bytes: bytes.length, gzip9: gzipSync(bytes, { level: 9 }).length });
  }
  assert.deepEqual(
    sizes.map((s) => s.path),
    ["/widget.js"],
    "the widget downloads one script and nothing else",
  );
  const total = sizes.reduce((n, s) => n + s.gzip9, 0);
  console.log(
    `widget downloads: ${sizes.map((s) => `${s.path} ${s.bytes} bytes (${s.gzip9} gzip -9)`).join(", ")}; ` +
      `total ${total} bytes gzip -9 (${(total / 1024).toFixed(1)} KiB)`,
  );
});
