// @vitest-environment jsdom
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { TransportProvider } from "@connectrpc/connect-query";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act } from "react";
import { createRoot } from "react-dom/client";
import { afterEach, describe, expect, it } from "vitest";
import { AdminService } from "../../../gen/proactivechat/v1/admin_service_pb";
import type { WebhookSchema } from "../../../gen/proactivechat/v1/admin_service_pb";
import { Webhooks } from "./Webhooks";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

/** fakeServer keeps endpoints in memory and records each call. */
function fakeServer() {
  const calls: string[] = [];
  const hooks: MessageInitShape<typeof WebhookSchema>[] = [];
  const delivery = (webhookId: string, eventId: string, attempt: number, ok: boolean) => ({
    webhookId,
    eventId,
    eventType: eventId.startsWith("ping_") ? "webhook.ping" : "chat.started",
    attempt,
    time: timestampFromMs(Date.now()),
    statusCode: ok ? 204 : 500,
    success: ok,
    error: ok ? "" : "the endpoint answered 500",
    latency: durationFromMs(42),
  });
  const transport = createRouterTransport(({ service }) => {
    service(AdminService, {
      listWebhooks: () => {
        calls.push("listWebhooks");
        return { webhooks: hooks };
      },
      createWebhook: (req) => {
        calls.push(`createWebhook ${req.url} ${req.eventTypes.join(",")}`);
        if (!req.url.startsWith("https://")) {
          throw new ConnectError("url: must be https", Code.InvalidArgument);
        }
        const w = { id: `wh_${hooks.length + 1}`, url: req.url, eventTypes: req.eventTypes, enabled: true };
        hooks.push(w);
        return { webhook: { ...w, secret: "whsec_c2VjcmV0" } };
      },
      updateWebhook: (req) => {
        calls.push(`updateWebhook ${req.webhook?.id} ${req.updateMask?.paths.join(",")} ${req.webhook?.enabled}`);
        const w = hooks.find((h) => h.id === req.webhook?.id)!;
        w.enabled = req.webhook?.enabled;
        return { webhook: w };
      },
      pingWebhook: (req) => {
        calls.push(`pingWebhook ${req.webhookId}`);
        const d = delivery(req.webhookId, "ping_1", 1, true);
        hooks.find((h) => h.id === req.webhookId)!.lastDelivery = d;
        return { delivery: d };
      },
      listWebhookDeliveries: (req) => {
        calls.push(`listWebhookDeliveries ${req.webhookId}`);
        return { deliveries: [delivery(req.webhookId, "evt_0000000000000007", 2, true), delivery(req.webhookId, "evt_0000000000000007", 1, false)] };
      },
      redeliverWebhookEvent: (req) => {
        calls.push(`redeliverWebhookEvent ${req.webhookId} ${req.eventId}`);
        return { delivery: delivery(req.webhookId, req.eventId, 1, true) };
      },
    });
  });
  return { calls, transport };
}

let cleanup: (() => void) | undefined;
afterEach(() => {
  cleanup?.();
  cleanup = undefined;
});

async function mount(hasAdminKey: boolean) {
  const server = fakeServer();
  const el = document.createElement("div");
  document.body.append(el);
  const root = createRoot(el);
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  cleanup = () => {
    act(() => root.unmount());
    el.remove();
  };
  await act(async () => {
    root.render(
      <TransportProvider transport={server.transport}>
        <QueryClientProvider client={queryClient}>
          <Webhooks hasAdminKey={hasAdminKey} />
        </QueryClientProvider>
      </TransportProvider>,
    );
  });
  const byTestId = (id: string) => el.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;
  const all = (id: string) => [...el.querySelectorAll(`[data-testid="${id}"]`)] as HTMLElement[];
  const open = async () => {
    const d = byTestId("webhooks") as HTMLDetailsElement;
    await act(async () => {
      d.open = true;
      d.dispatchEvent(new Event("toggle"));
    });
  };
  return { server, byTestId, all, open };
}

async function until(cond: () => boolean, what: string) {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await act(async () => {
      await new Promise((r) => setTimeout(r, 10));
    });
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function type(input: Element | null, value: string) {
  const el = input as HTMLInputElement;
  await act(async () => {
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")!.set!.call(el, value);
    el.dispatchEvent(new Event("input", { bubbles: true }));
  });
}

async function click(el: Element | null) {
  await act(async () => {
    (el as HTMLElement).click();
  });
}

describe("Webhooks", () => {
  it("asks for an admin API key and fetches nothing without one", async () => {
    const { server, byTestId, open } = await mount(false);
    await open();
    expect(byTestId("webhooks-need-key")!.textContent).toContain("admin API key");
    expect(server.calls).toEqual([]);
  });

  it("fetches only once opened; creates an endpoint showing its secret once, pings, disables, shows deliveries and redelivers", async () => {
    const { server, byTestId, all, open } = await mount(true);
    expect(server.calls).toEqual([]);
    await open();
    await until(() => server.calls.includes("listWebhooks"), "the list");

    // A refused URL shows the server's reason.
    await type(byTestId("webhook-url"), "http://hooks.example/in");
    await click(byTestId("webhook-create"));
    await until(() => !!byTestId("webhook-create-error"), "the url's error");
    expect(byTestId("webhook-create-error")!.textContent).toContain("must be https");

    await type(byTestId("webhook-url"), "https://hooks.example/in");
    await type(byTestId("webhook-types"), "chat.started, chat.ended");
    await click(byTestId("webhook-create"));
    await until(() => !!byTestId("webhook-secret"), "the secret");
    expect(byTestId("webhook-secret")!.textContent).toContain("whsec_c2VjcmV0");
    expect(server.calls).toContain("createWebhook https://hooks.example/in chat.started,chat.ended");
    await until(() => all("webhook-item").length === 1, "the endpoint in the list");
    expect(byTestId("webhook-item")!.textContent).toContain("chat.started, chat.ended");
    expect(byTestId("webhook-item")!.textContent).not.toContain("whsec_");

    await click(byTestId("webhook-ping"));
    await until(() => !!byTestId("webhook-ping-result"), "the ping's result");
    expect(byTestId("webhook-ping-result")!.textContent).toBe("Ping: 204 OK in 42 ms");

    await click(byTestId("webhook-toggle"));
    await until(() => byTestId("webhook-state")!.textContent === "Disabled", "the endpoint disabled");
    expect(server.calls).toContain("updateWebhook wh_1 enabled false");

    await click(byTestId("webhook-show-deliveries"));
    await until(() => all("webhook-delivery").length === 2, "the deliveries");
    expect(all("webhook-delivery")[1].textContent).toContain("500: the endpoint answered 500");
    await click(all("webhook-redeliver")[0]);
    await until(() => server.calls.includes("redeliverWebhookEvent wh_1 evt_0000000000000007"), "the redelivery");
  });
});
