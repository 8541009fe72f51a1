// The widget's entry point: `<script src="https://chat.example/widget.js"
// data-site="site_…" async></script>` on any page. It talks to the server
// it was loaded from.

import { installPageAPI, toIdentity, type PageAPI } from "./identity";
import { connect, Widget } from "./widget";

const loaded = Symbol.for("proactivechat.widget");

function main(): void {
  const w = window as unknown as Record<symbol, boolean>;
  if (w[loaded]) return; // the tag is on the page twice
  const script = (document.currentScript ??
    document.querySelector("script[data-site][src*='widget.js']")) as HTMLScriptElement | null;
  const site = script?.dataset.site;
  if (!script || !site) {
    console.warn("proactive chat: the widget's script tag needs data-site");
    return;
  }
  w[loaded] = true;
  const origin = new URL(script.src, location.href).origin;
  const settings = (window as unknown as PageAPI).proactiveChatSettings;
  const widget = new Widget(site, (auth) => connect(origin, auth), toIdentity(settings?.identity));
  installPageAPI(window as unknown as PageAPI, {
    identify: (identity) => void widget.identify(identity),
    attributes: (change) => void widget.setAttributes(change),
  });
  const start = () =>
    widget.start().catch((err) => console.warn("proactive chat: the widget stopped:", err));
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start, { once: true });
}

try {
  main();
} catch (err) {
  console.warn("proactive chat: the widget could not start:", err);
}
