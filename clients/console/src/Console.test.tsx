// @vitest-environment jsdom
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createRouterTransport } from "@connectrpc/connect";
import { TransportProvider } from "@connectrpc/connect-query";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act } from "react";
import { createRoot } from "react-dom/client";
import { afterEach, describe, expect, it } from "vitest";
import { AdminService } from "../../gen/proactivechat/v1/admin_service_pb";
import { AgentStatus } from "../../gen/proactivechat/v1/agent_pb";
import { AgentService } from "../../gen/proactivechat/v1/agent_service_pb";
import { ChatState, ParticipantRole } from "../../gen/proactivechat/v1/chat_pb";
import type { WatchChatResponseSchema } from "../../gen/proactivechat/v1/chat_service_pb";
import { ChatService } from "../../gen/proactivechat/v1/chat_service_pb";
import { ChatRequestKind, ChatRequestState } from "../../gen/proactivechat/v1/engagement_pb";
import { EngagementState } from "../../gen/proactivechat/v1/visitor_pb";
import { Console } from "./Console";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const untilAborted = (signal: AbortSignal) => new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));

function fakeServer() {
  const calls: string[] = [];
  const now = Date.now();
  const chat = {
    id: "chat_1",
    siteId: "site_1",
    state: ChatState.ACTIVE,
    lastSeq: 1,
    chatRequestId: "req_1",
    visitor: { id: "visitor_1", role: ParticipantRole.VISITOR },
    agent: { id: "agent_a", role: ParticipantRole.AGENT },
  };
  const transport = createRouterTransport(({ service }) => {
    service(AdminService, {
      listSites: () => ({ sites: [{ id: "site_1", name: "Test shop", proactiveChat: { enabled: true } }] }),
    });
    service(AgentService, {
      async *watchAgent(req, ctx) {
        calls.push(`watchAgent ${req.agentId}`);
        const request = {
          id: "req_1",
          siteId: "site_1",
          visitorId: "visitor_1",
          kind: ChatRequestKind.INVITED,
          state: ChatRequestState.ALERTING,
          alertedAgentId: "agent_a",
          formValues: { name: "Ann" },
          enqueueTime: timestampFromMs(now - 5000),
          alertDeadline: timestampFromMs(now + 20_000),
        };
        yield {
          event: {
            case: "snapshot",
            value: {
              agent: { id: "agent_a", displayName: "Ann Agent", status: AgentStatus.AVAILABLE },
              queue: [request],
              alerts: [{ chatRequest: request, reason: "longest idle" }],
            },
          },
        };
        await untilAborted(ctx.signal);
      },
      async *watchPresence(_req, ctx) {
        yield {
          event: {
            case: "snapshot",
            value: {
              visitors: [
                {
                  visitorId: "visitor_1",
                  siteId: "site_1",
                  engagement: EngagementState.ALERTING,
                  currentPage: { url: "https://shop.example/", title: "Home" },
                  visitStartTime: timestampFromMs(now - 65_000),
                },
              ],
            },
          },
        };
        await untilAborted(ctx.signal);
      },
      acceptChatRequest: (req) => {
        calls.push(`accept ${req.chatRequestId}`);
        return { chat };
      },
    });
    service(ChatService, {
      getChat: () => ({ chat }),
      async *watchChat(req, ctx) {
        calls.push(`watchChat ${req.chatId} after ${req.afterSeq}`);
        const events: MessageInitShape<typeof WatchChatResponseSchema>[] = [
          { event: { case: "chatEvent", value: { chatId: "chat_1", seq: 1, kind: { case: "started", value: {} } } } },
          {
          event: {
            case: "chatEvent",
            value: {
              chatId: "chat_1",
              seq: 2,
              kind: { case: "message", value: { sender: { id: "visitor_1", role: ParticipantRole.VISITOR }, text: "<b>hi</b>" } },
            },
          },
          },
        ];
        yield* events;
        await untilAborted(ctx.signal);
      },
      setTyping: () => ({}),
    });
  });
  return { transport, calls };
}

let cleanup: (() => void) | undefined;
afterEach(() => {
  cleanup?.();
  cleanup = undefined;
});

async function until(cond: () => boolean, what: string) {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await act(async () => {
      await new Promise((r) => setTimeout(r, 10));
    });
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("Console", () => {
  it("shows an alert with its countdown, accepts it and follows the chat", async () => {
    const { transport, calls } = fakeServer();
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
        <TransportProvider transport={transport}>
          <QueryClientProvider client={queryClient}>
            <Console agentId="agent_a" onSwitchAgent={() => {}} />
          </QueryClientProvider>
        </TransportProvider>,
      );
    });
    const q = (sel: string) => el.querySelector(sel);
    await until(() => !!q('[data-testid="alert"]'), "the alert");
    const alert = q('[data-testid="alert"]')!;
    expect(alert.getAttribute("role")).toBe("alert");
    expect(alert.textContent).toContain("Ann");
    expect(q('[data-testid="alert-countdown"]')!.textContent).toMatch(/^0:(19|20)$/);
    await until(() => !!q('[data-testid="visitor-row"]'), "the visitor");
    expect(q('[data-testid="time-on-site"]')!.textContent).toContain("1m 05s");
    expect(q('[data-testid="queue-row"]')!.textContent).toContain("Ann");
    expect((q('[data-testid="status-select"]') as HTMLSelectElement).value).toBe(String(AgentStatus.AVAILABLE));

    await act(async () => {
      (q('[data-testid="accept-alert"]') as HTMLButtonElement).click();
    });
    await until(() => !!q('[data-testid="message"]'), "the chat");
    expect(q('[data-testid="alert"]')).toBeNull();
    expect(calls).toContain("accept req_1");
    expect(calls).toContain("watchChat chat_1 after 0");
    const tab = q('[data-testid="chat-tab"]')!;
    expect(tab.getAttribute("role")).toBe("tab");
    expect(tab.getAttribute("aria-selected")).toBe("true");
    // Markup from a visitor is text, never HTML.
    const message = q('[data-testid="message"] .msg-text')!;
    expect(message.textContent).toBe("<b>hi</b>");
    expect(message.querySelector("b")).toBeNull();
    expect(q('[data-testid="chat-panel"]')!.textContent).toContain("Ann");
  });
});
