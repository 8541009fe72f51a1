// @vitest-environment jsdom
// The visitor's credential: the widget sends its token on every call after
// StartVisitorSession, and starts a new session when the server refuses
// it. The fake server below checks the Authorization header the way the
// real one does, so a missing or wrong header fails these tests.
import { afterEach, describe, expect, it, vi } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type HandlerContext } from "@connectrpc/connect";
import { ChatService } from "../gen/proactivechat/v1/chat_service_pb";
import { ChatEventSchema, ParticipantRole } from "../gen/proactivechat/v1/chat_pb";
import { EngagementState } from "../gen/proactivechat/v1/visitor_pb";
import { VisitorService } from "../gen/proactivechat/v1/visitor_service_pb";
import { bearer, clients, Widget, type Auth } from "./widget";

function fakeServer() {
  const tokens = new Map<string, string>(); // token → visitor id
  const streams = new Map<string, (err: ConnectError) => void>(); // open WatchVisitor streams by visitor
  const log: string[] = [];
  let visitors = 0;
  // who fails the call unless it carries the token of visitorId.
  const who = (ctx: HandlerContext, visitorId: string) => {
    const header = ctx.requestHeader.get("Authorization") ?? "";
    const id = header.startsWith("Bearer ") ? tokens.get(header.slice(7)) : undefined;
    if (!id) throw new ConnectError("the token is unknown, expired or revoked", Code.Unauthenticated);
    if (id !== visitorId) throw new ConnectError(`${id} may not act as ${visitorId}`, Code.PermissionDenied);
  };
  const transport = (auth: Auth) =>
    createRouterTransport(
      ({ service }) => {
        service(VisitorService, {
          startVisitorSession(req, ctx) {
            log.push(`start resume=${req.resumeToken} auth=${ctx.requestHeader.get("Authorization") ?? ""}`);
            const known = tokens.get(req.resumeToken);
            if (known) return { visitor: { id: known }, token: req.resumeToken, resumed: true };
            const id = `visitor_${++visitors}`;
            tokens.set(`pcv_${visitors}`, id);
            return { visitor: { id }, token: `pcv_${visitors}` };
          },
          async *watchVisitor(req, ctx) {
            who(ctx, req.visitorId);
            log.push(`watching ${req.visitorId}`);
            yield { event: { case: "state", value: { engagement: EngagementState.CHATTING, chat: { id: "chat_1" } } } };
            await new Promise<void>((_, reject) => {
              streams.set(req.visitorId, reject);
              ctx.signal.addEventListener("abort", () => reject(new ConnectError("closed", Code.Canceled)));
            });
          },
          reportPageView(req, ctx) {
            who(ctx, req.visitorId);
            return {};
          },
        });
        service(ChatService, {
          sendMessage(req, ctx) {
            who(ctx, req.senderId);
            log.push(`message from ${req.senderId}: ${req.text}`);
            return {};
          },
          setTyping(req, ctx) {
            who(ctx, req.senderId);
            return {};
          },
        });
      },
      { transport: { interceptors: [bearer(auth)] } },
    );
  return {
    transport,
    log,
    tokens,
    /** erase forgets the visitor; its open stream ends UNAUTHENTICATED unless keepStream (a stream the server has not cut yet). */
    erase(visitorId: string, keepStream = false) {
      for (const [t, id] of tokens) if (id === visitorId) tokens.delete(t);
      if (!keepStream) streams.get(visitorId)?.(new ConnectError("the token is unknown, expired or revoked", Code.Unauthenticated));
    },
  };
}

const widgets: Widget[] = [];
function startWidget(server: ReturnType<typeof fakeServer>) {
  // The shortest backoff: reconnections take 250 ms, 500 ms, ...
  vi.spyOn(Math, "random").mockReturnValue(0);
  const w = new Widget("site_test", (auth) => clients(server.transport(auth)));
  widgets.push(w);
  void w.start();
  return w;
}

/** send answers the agent's first message in the chat the stream said the visitor is in. */
function send(w: Widget, text: string) {
  const hello = create(ChatEventSchema, {
    chatId: "chat_1",
    seq: 1,
    kind: { case: "message", value: { text: "Hello!", sender: { role: ParticipantRole.AGENT, id: "agent_a", displayName: "Dana" } } },
  });
  w.onChatEvent(hello, true);
  const box = w.view.root.querySelector("textarea")!;
  box.value = text;
  box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
}

afterEach(() => {
  for (const w of widgets.splice(0)) w.stream?.stop();
  vi.restoreAllMocks();
  document.body.replaceChildren();
  localStorage.clear();
});

describe("the visitor's token", () => {
  it("is sent on every call after StartVisitorSession, and kept to resume the session", async () => {
    const server = fakeServer();
    const w = startWidget(server);
    await vi.waitFor(() => expect(server.log).toContain("watching visitor_1"));
    expect(localStorage.getItem("proactivechat.site_test.token")).toBe("pcv_1");
    send(w, "Hi there");
    await vi.waitFor(() => expect(server.log).toContain("message from visitor_1: Hi there"));
    expect(server.log).toEqual(["start resume= auth=", "watching visitor_1", "message from visitor_1: Hi there"]);

    // The next page load resumes the session with the kept token.
    const again = startWidget(server);
    await vi.waitFor(() => expect(server.log.filter((l) => l === "watching visitor_1").length).toBe(2));
    expect(server.log[3]).toBe("start resume=pcv_1 auth=");
    expect(again.visitorId).toBe("visitor_1");
  });

  it("refused on the stream (the visitor was erased): a new session, and its token from then on", async () => {
    const server = fakeServer();
    const w = startWidget(server);
    await vi.waitFor(() => expect(server.log).toContain("watching visitor_1"));
    server.erase("visitor_1");
    await vi.waitFor(() => expect(server.log).toContain("watching visitor_2"));
    expect(server.log).toEqual(["start resume= auth=", "watching visitor_1", "start resume= auth=", "watching visitor_2"]);
    expect(w.visitorId).toBe("visitor_2");
    expect(localStorage.getItem("proactivechat.site_test.token")).toBe("pcv_2");
    send(w, "Still there?");
    await vi.waitFor(() => expect(server.log).toContain("message from visitor_2: Still there?"));
  });

  it("refused on a call while the stream is open: the stream reopens, is refused too, and a new session starts", async () => {
    const server = fakeServer();
    const w = startWidget(server);
    await vi.waitFor(() => expect(server.log).toContain("watching visitor_1"));
    server.erase("visitor_1", true);
    send(w, "Hi there");
    await vi.waitFor(() => expect(w.view.root.querySelector(".msg.pending")?.textContent).toContain("not sent"));
    await vi.waitFor(() => expect(server.log).toContain("watching visitor_2"), { timeout: 3000 });
    expect(server.log).toEqual(["start resume= auth=", "watching visitor_1", "start resume= auth=", "watching visitor_2"]);
    expect(localStorage.getItem("proactivechat.site_test.token")).toBe("pcv_2");
  });

  it("of another tab's new session is resumed rather than replaced", async () => {
    const server = fakeServer();
    const w = startWidget(server);
    await vi.waitFor(() => expect(server.log).toContain("watching visitor_1"));
    // Another tab found out first and started visitor_2.
    server.tokens.set("pcv_other", "visitor_2");
    localStorage.setItem("proactivechat.site_test.token", "pcv_other");
    server.erase("visitor_1");
    await vi.waitFor(() => expect(server.log).toContain("watching visitor_2"));
    expect(server.log[2]).toBe("start resume=pcv_other auth=");
    expect(w.visitorId).toBe("visitor_2");
  });
});
