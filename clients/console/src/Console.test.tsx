// @vitest-environment jsdom
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import type { HandlerContext } from "@connectrpc/connect";
import { TransportProvider } from "@connectrpc/connect-query";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act } from "react";
import { createRoot } from "react-dom/client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AdminService } from "../../gen/proactivechat/v1/admin_service_pb";
import { AgentStatus } from "../../gen/proactivechat/v1/agent_pb";
import { AgentService } from "../../gen/proactivechat/v1/agent_service_pb";
import { ChatState, ParticipantRole } from "../../gen/proactivechat/v1/chat_pb";
import type { WatchChatResponseSchema } from "../../gen/proactivechat/v1/chat_service_pb";
import { ChatService } from "../../gen/proactivechat/v1/chat_service_pb";
import { ChatRequestKind, ChatRequestState } from "../../gen/proactivechat/v1/engagement_pb";
import { EngagementState } from "../../gen/proactivechat/v1/visitor_pb";
import { App } from "./App";
import { AuthProvider } from "./hooks";
import { ADMIN_KEY_REFUSED, Auth, SESSION_ENDED } from "./lib/auth";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const PASSWORD = "right-password";
const ADMIN_KEY = "pca_good";
/** SCOPED_KEY is an admin API key scoped to site_1. */
const SCOPED_KEY = "pca_site_1";

/**
 * fakeServer checks credentials the way the real one does: the agent's
 * calls need "Authorization: Bearer <its session token>", UpdateSite,
 * ListWebhooks and ListApiKeys an admin API key (ListApiKeys one of every
 * site, not SCOPED_KEY). Tokens are pcs_1, pcs_2, … per sign-in.
 */
function fakeServer(auth: Auth, { alert = true } = {}) {
  const calls: string[] = [];
  const now = Date.now();
  const sessions = new Map<string, string>(); // token → agent id
  const streams = new Set<(err: ConnectError) => void>(); // open streams' ends
  const bearer = (ctx: HandlerContext) => {
    const h = ctx.requestHeader.get("Authorization") ?? "";
    return h.startsWith("Bearer ") ? h.slice(7) : "";
  };
  const unauthenticated = () => new ConnectError("the token is unknown, expired or revoked", Code.Unauthenticated);
  /** agent fails the call unless it carries a session of agentId (or of any agent when agentId is ""). */
  const agent = (ctx: HandlerContext, agentId = "") => {
    const id = sessions.get(bearer(ctx));
    if (!id) throw bearer(ctx).startsWith("pca_") ? new ConnectError("this call needs an agent session", Code.PermissionDenied) : unauthenticated();
    if (agentId && id !== agentId) throw new ConnectError(`agent ${id} may not act as ${agentId}`, Code.PermissionDenied);
  };
  const adminKeys = new Set([ADMIN_KEY, SCOPED_KEY]);
  const admin = (ctx: HandlerContext) => {
    const token = bearer(ctx);
    if (sessions.has(token)) throw new ConnectError("this call needs an admin API key, not an agent session", Code.PermissionDenied);
    if (!adminKeys.has(token)) throw unauthenticated();
  };
  /** untilEnded waits until the client closes the stream, or the server ends it (revoke). */
  const untilEnded = (signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const end = (err: ConnectError) => reject(err);
      streams.add(end);
      signal.addEventListener("abort", () => {
        streams.delete(end);
        resolve();
      });
    });
  const chat = {
    id: "chat_1",
    siteId: "site_1",
    state: ChatState.ACTIVE,
    lastSeq: 1,
    chatRequestId: "req_1",
    visitor: { id: "visitor_1", role: ParticipantRole.VISITOR, displayName: "Ann Lee" },
    agent: { id: "agent_a", role: ParticipantRole.AGENT },
  };
  // Past chats of the agent's sites, newest first, none taken in this browser.
  const pastChats = [
    { visitorName: "Zoë Quist", visitorEmail: "zoe@example.com", chat: { ...chat, id: "chat_p3", state: ChatState.ENDED, createTime: timestampFromMs(now - 60_000) } },
    { visitorName: "", visitorEmail: "", chat: { ...chat, id: "chat_p2", visitor: { id: "visitor_9876", role: ParticipantRole.VISITOR }, createTime: timestampFromMs(now - 120_000) } },
    { visitorName: "Bo", visitorEmail: "bo@example.com", chat: { ...chat, id: "chat_p1", state: ChatState.ENDED, createTime: timestampFromMs(now - 180_000), rating: { score: 4, comment: "Quick" } } },
  ];
  const transport = createRouterTransport(({ service }) => {
    service(AdminService, {
      getRatingSummary: (req, ctx) => {
        agent(ctx, req.agentId);
        calls.push(`getRatingSummary ${req.agentId} ${bearer(ctx)}`);
        return { summary: { count: 23, average: 4.6087, counts: [0, 1, 1, 4, 17] } };
      },
      listSites: (_req, ctx) => {
        calls.push(`listSites ${bearer(ctx)}`);
        agent(ctx);
        return { sites: [{ id: "site_1", name: "Test shop", proactiveChat: { enabled: true } }] };
      },
      listRoutingDecisions: (_req, ctx) => {
        agent(ctx);
        return {};
      },
      listApiKeys: (_req, ctx) => {
        calls.push(`listApiKeys ${bearer(ctx)}`);
        admin(ctx);
        if (bearer(ctx) === SCOPED_KEY) throw new ConnectError("API key is scoped to sites; only a key of every site may list keys", Code.PermissionDenied);
        return {};
      },
      listWebhooks: (_req, ctx) => {
        calls.push(`listWebhooks ${bearer(ctx)}`);
        admin(ctx);
        return {};
      },
      updateSite: (req, ctx) => {
        calls.push(`updateSite ${req.updateMask?.paths.join(",")} ${bearer(ctx)}`);
        admin(ctx);
        return { site: req.site };
      },
    });
    service(AgentService, {
      signIn: (req) => {
        calls.push(req.login ? `signIn login ${req.login}` : `signIn ${req.agentId}`);
        const agentId = req.login ? (req.login.toLowerCase() === "ann@shop.example" ? "agent_a" : "") : req.agentId;
        if (agentId !== "agent_a" || req.password !== PASSWORD) throw new ConnectError("wrong login or password", Code.Unauthenticated);
        const token = `pcs_${sessions.size + 1}`;
        sessions.set(token, agentId);
        return {
          agent: { id: agentId },
          session: { id: "sess", agentId, expireTime: timestampFromMs(now + 12 * 3600_000) },
          token,
        };
      },
      signOut: (_req, ctx) => {
        calls.push(`signOut ${bearer(ctx)}`);
        agent(ctx);
        sessions.delete(bearer(ctx));
        return {};
      },
      setAgentStatus: (req, ctx) => {
        calls.push(`setAgentStatus ${bearer(ctx)}`);
        agent(ctx, req.agentId);
        return { agent: { id: req.agentId, status: req.status } };
      },
      async *watchAgent(req, ctx) {
        calls.push(`watchAgent ${req.agentId} ${bearer(ctx)}`);
        agent(ctx, req.agentId);
        const request = {
          id: "req_1",
          siteId: "site_1",
          visitorId: "visitor_1",
          kind: ChatRequestKind.INVITED,
          state: ChatRequestState.ALERTING,
          alertedAgentId: "agent_a",
          formValues: { name: "Ann" },
          visitorIdentity: { name: "Ann Lee", email: "ann@example.com" },
          enqueueTime: timestampFromMs(now - 5000),
          alertDeadline: timestampFromMs(now + 20_000),
        };
        yield {
          event: {
            case: "snapshot",
            value: {
              agent: { id: "agent_a", displayName: "Ann Agent", status: AgentStatus.AVAILABLE },
              queue: alert ? [request] : [],
              alerts: alert ? [{ chatRequest: request, reason: "longest idle" }] : [],
            },
          },
        };
        await untilEnded(ctx.signal);
      },
      async *watchPresence(req, ctx) {
        agent(ctx, req.agentId);
        yield {
          event: {
            case: "snapshot",
            value: {
              visitors: [
                {
                  visitorId: "visitor_1",
                  siteId: "site_1",
                  engagement: alert ? EngagementState.ALERTING : EngagementState.BROWSING,
                  currentPage: { url: "https://shop.example/", title: "Home" },
                  visitStartTime: timestampFromMs(now - 65_000),
                  identity: { name: "Ann Lee", externalId: "u-7", verified: true, attributes: { plan: "pro" } },
                },
              ],
            },
          },
        };
        await untilEnded(ctx.signal);
      },
      startChat: (req, ctx) => {
        agent(ctx, req.agentId);
        calls.push(`startChat ${req.visitorId}`);
        throw new ConnectError(`agent "${req.agentId}" is offline; only an available agent starts chats`, Code.FailedPrecondition);
      },
      acceptChatRequest: (req, ctx) => {
        agent(ctx, req.agentId);
        calls.push(`accept ${req.chatRequestId}`);
        return { chat };
      },
    });
    service(ChatService, {
      getChat: (_req, ctx) => {
        agent(ctx);
        return { chat };
      },
      listChats: (req, ctx) => {
        agent(ctx);
        calls.push(`listChats site=${req.siteId} state=${req.state} query=${req.query} token=${req.pageToken}`);
        const q = req.query.toLowerCase();
        const matching = pastChats.filter(
          (c) =>
            (!req.siteId || c.chat.siteId === req.siteId) &&
            (!req.state || c.chat.state === req.state) &&
            (!q || c.visitorName.toLowerCase().includes(q) || c.visitorEmail.toLowerCase().includes(q)),
        );
        const from = Number(req.pageToken || 0);
        const size = 2;
        return {
          chats: matching.slice(from, from + size),
          nextPageToken: from + size < matching.length ? String(from + size) : "",
        };
      },
      listChatEvents: (req, ctx) => {
        agent(ctx);
        return { events: [{ chatId: req.chatId, seq: 1, kind: { case: "started", value: {} } }] };
      },
      getChatTranscript: (req, ctx) => {
        agent(ctx);
        calls.push(`getChatTranscript ${req.chatId}`);
        return { text: `Chat transcript\nChat: ${req.chatId}\n`, fileName: `transcript-${req.chatId}.txt` };
      },
      async *watchChat(req, ctx) {
        agent(ctx);
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
        await untilEnded(ctx.signal);
      },
      setTyping: (req, ctx) => {
        agent(ctx, req.senderId);
        return {};
      },
      listWhispers: (req, ctx) => {
        agent(ctx);
        calls.push(`listWhispers ${req.chatId}`);
        return {
          whispers: [
            { chatId: req.chatId, seq: 1, time: timestampFromMs(now), fromId: "agent_sam", fromName: "Sam", text: "<i>Offer</i> the discount" },
          ],
        };
      },
    });
  }, { transport: { interceptors: [auth.interceptor] } });
  return {
    transport,
    calls,
    /** revoke ends every session; their open streams end UNAUTHENTICATED unless keepStreams. */
    revoke(keepStreams = false) {
      sessions.clear();
      if (!keepStreams) for (const end of streams) end(unauthenticated());
      streams.clear();
    },
    revokeAdminKeys() {
      adminKeys.clear();
    },
    /** session makes a session as SignIn would, for tests that start signed in. */
    session(agentId = "agent_a") {
      const token = `pcs_${sessions.size + 1}`;
      sessions.set(token, agentId);
      return token;
    },
  };
}

let cleanup: (() => void) | undefined;
beforeEach(() => {
  window.history.replaceState(null, "", "/agent/");
  sessionStorage.clear();
  localStorage.clear();
});
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

/** mount renders the whole console (App, as main.tsx does) on the fake server; signedIn starts with a session. */
async function mount({ signedIn = false, alert = true } = {}) {
  const auth = new Auth(sessionStorage);
  const server = fakeServer(auth, { alert });
  if (signedIn) {
    const token = server.session();
    auth.signedIn({ agent: { id: "agent_a" }, session: { agentId: "agent_a" }, token } as never);
  }
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
      <AuthProvider auth={auth}>
        <TransportProvider transport={server.transport}>
          <QueryClientProvider client={queryClient}>
            <App />
          </QueryClientProvider>
        </TransportProvider>
      </AuthProvider>,
    );
  });
  const q = (sel: string) => el.querySelector(sel);
  const byTestId = (id: string) => el.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;
  return { auth, server, el, q, byTestId };
}

/** type sets an input's value the way typing does (React listens to the input event). */
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

describe("Console", () => {
  it("shows an alert with its countdown, accepts it and follows the chat", async () => {
    const { server, q } = await mount({ signedIn: true });
    const { calls } = server;
    await until(() => !!q('[data-testid="alert"]'), "the alert");
    const alert = q('[data-testid="alert"]')!;
    expect(alert.getAttribute("role")).toBe("alert");
    expect(alert.textContent).toContain("Ann");
    // A plain line for the agent: routing's reasons stay in the API.
    expect(q('[data-testid="alert-line"]')!.textContent).toMatch(/^A visitor on Test shop is waiting — 0:(19|20) left$/);
    expect(alert.textContent).not.toContain("longest idle");
    expect(q('[data-testid="alert-countdown"]')!.textContent).toMatch(/^0:(19|20)$/);
    await until(() => !!q('[data-testid="visitor-row"]'), "the visitor");
    expect(q('[data-testid="time-on-site"]')!.textContent).toContain("1m 05s");
    expect(q('[data-testid="queue-row"]')!.textContent).toContain("Ann");
    // One action for the visitor: the alert's Accept; not Take chat nor Start chat besides.
    expect(q('[data-testid="accept-queued"]')).toBeNull();
    expect(q('[data-testid="start-chat"]')).toBeNull();
    // Who the visitor is, by name, everywhere; the rest marked verified or not.
    expect(q('[data-testid="visitor-name"]')!.textContent).toBe("Ann Lee");
    expect(q('[data-testid="visitor-row"] [data-testid="visitor-identity"]')!.textContent).toMatch(/id u-7.*verified.*plan.*pro/);
    expect(alert.querySelector("h2")!.textContent).toContain("Ann Lee is waiting");
    expect(q('[data-testid="queue-row"] strong')!.textContent).toBe("Ann Lee");
    expect(q('[data-testid="queue-row"] [data-testid="visitor-identity"]')!.textContent).toContain("unverified");
    expect((q('[data-testid="status-select"]') as HTMLSelectElement).value).toBe(String(AgentStatus.AVAILABLE));

    await click(q('[data-testid="accept-alert"]'));
    await until(() => !!q('[data-testid="message"]'), "the chat");
    expect(q('[data-testid="alert"]')).toBeNull();
    expect(calls).toContain("accept req_1");
    expect(calls).toContain("watchChat chat_1 after 0");
    const tab = q('[data-testid="chat-tab"]')!;
    expect(tab.getAttribute("role")).toBe("tab");
    expect(tab.getAttribute("aria-selected")).toBe("true");
    expect(tab.textContent).toContain("Ann Lee");
    // Markup from a visitor is text, never HTML.
    const message = q('[data-testid="message"] .msg-text')!;
    expect(message.textContent).toBe("<b>hi</b>");
    expect(message.querySelector("b")).toBeNull();
    expect(q('[data-testid="chat-panel"]')!.textContent).toContain("Ann");
    // A supervisor's whisper shows in the tab as one, as text.
    await until(() => !!q('[data-testid="whisper"]'), "the whisper");
    const whisper = q('[data-testid="whisper"]')!;
    expect(whisper.textContent).toContain("Whisper from Sam");
    expect(whisper.querySelector(".msg-text")!.textContent).toBe("<i>Offer</i> the discount");
    expect(whisper.querySelector("i")).toBeNull();
    // No Supervise page for an agent who supervises nothing.
    expect(q('[data-testid="nav-supervise"]')).toBeNull();
  });
});

describe("Start chat", () => {
  it("is for Available agents only: a hint otherwise, and a refusal goes when the status changes", async () => {
    const { server, q, byTestId } = await mount({ signedIn: true, alert: false });
    await until(() => !!q('[data-testid="start-chat"]'), "the visitor's Start chat");
    const start = () => q('[data-testid="start-chat"]') as HTMLButtonElement;
    expect(start().getAttribute("aria-disabled")).toBeNull();
    // The server refuses (the agent went offline elsewhere): its words show under the visitor…
    await click(start());
    await until(() => !!byTestId("visitor-note"), "the refusal");
    expect(server.calls).toContain("startChat visitor_1");
    // …until the status changes.
    const status = byTestId("status-select") as HTMLSelectElement;
    await act(async () => {
      status.value = String(AgentStatus.OFFLINE);
      status.dispatchEvent(new Event("change", { bubbles: true }));
    });
    await until(() => start().getAttribute("aria-disabled") === "true", "Start chat disabled");
    expect(byTestId("visitor-note")).toBeNull();
    expect(byTestId("start-chat-hint")!.textContent).toContain("You are Offline");
    expect(start().title).toContain("Available");
    const before = server.calls.filter((c) => c.startsWith("startChat")).length;
    await click(start());
    expect(server.calls.filter((c) => c.startsWith("startChat")).length).toBe(before);
  });
});

describe("The transcripts page", () => {
  it("lists the chats of the agent's sites with filters, search and paging, and downloads a transcript", async () => {
    const { server, q, byTestId, el } = await mount({ signedIn: true });
    const { calls } = server;
    window.location.hash = "#/transcripts";
    await until(() => el.querySelectorAll('[data-testid="transcript-item"]').length === 2, "the first page");
    const items = () => [...el.querySelectorAll('[data-testid="transcript-item"]')].map((i) => i.getAttribute("data-chat-id"));
    expect(items()).toEqual(["chat_p3", "chat_p2"]);
    expect(el.querySelector('[data-chat-id="chat_p3"]')!.textContent).toContain("Zoë Quist <zoe@example.com>");
    expect(el.querySelector('[data-chat-id="chat_p2"]')!.textContent).toContain("Visitor");

    await click(byTestId("load-more-chats"));
    await until(() => items().length === 3, "the second page");
    expect(items()).toEqual(["chat_p3", "chat_p2", "chat_p1"]);
    expect(byTestId("load-more-chats")).toBeNull();
    expect(el.querySelector('[data-chat-id="chat_p1"]')!.textContent).toContain("rated 4/5");
    // The header shows the agent's own average rating.
    await until(() => byTestId("my-rating")?.textContent?.includes("4.6") ?? false, "the agent's rating");
    expect(byTestId("my-rating")!.textContent).toMatch(/^4\.6 ★.*\(23\)$/);
    expect(calls.some((c) => c.startsWith("getRatingSummary agent_a "))).toBe(true);

    // A filter applies at once; the search on submit.
    const state = byTestId("filter-state") as HTMLSelectElement;
    await act(async () => {
      state.value = "ended";
      state.dispatchEvent(new Event("change", { bubbles: true }));
    });
    await until(() => items().join() === "chat_p3,chat_p1", "the ended chats");
    expect(calls).toContain(`listChats site= state=${ChatState.ENDED} query= token=`);
    await type(byTestId("filter-query"), "BO@");
    expect(items().join()).toBe("chat_p3,chat_p1");
    await act(async () => {
      (byTestId("chat-filters") as HTMLFormElement).requestSubmit();
    });
    await until(() => items().join() === "chat_p1", "the search");

    // Opening a chat shows its events and downloads its transcript.
    await click(el.querySelector('[data-chat-id="chat_p1"]'));
    await until(() => !!q('[data-testid="transcript"]'), "the transcript");
    expect(q('[data-testid="transcript"] h2')!.textContent).toContain("Bo <bo@example.com>");
    const saved: { name: string; blob: Blob }[] = [];
    const urls = URL as unknown as { createObjectURL: (b: Blob) => string; revokeObjectURL: (u: string) => void };
    const [create, revoke] = [urls.createObjectURL, urls.revokeObjectURL];
    let last: Blob | undefined;
    urls.createObjectURL = (b: Blob) => ((last = b), "blob:transcript");
    urls.revokeObjectURL = () => {};
    const anchorClick = HTMLAnchorElement.prototype.click;
    HTMLAnchorElement.prototype.click = function (this: HTMLAnchorElement) {
      saved.push({ name: this.download, blob: last! });
    };
    try {
      await click(byTestId("download-transcript"));
      await until(() => saved.length === 1, "the download");
    } finally {
      HTMLAnchorElement.prototype.click = anchorClick;
      [urls.createObjectURL, urls.revokeObjectURL] = [create, revoke];
    }
    expect(calls).toContain("getChatTranscript chat_p1");
    expect(saved[0].name).toBe("transcript-chat_p1.txt");
    const text = await new Promise<string>((resolve) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result));
      reader.readAsText(saved[0].blob);
    });
    expect(text).toContain("Chat: chat_p1");
  });
});

describe("Signing in", () => {
  it("refuses a wrong password, signs in, sends the session on every call, and signs out", async () => {
    window.history.replaceState(null, "", "/agent/?agent=agent_a");
    const { server, byTestId, el } = await mount();
    const { calls } = server;
    // The agent id comes from ?agent=; the password field has the focus.
    expect((byTestId("agent-id-input") as HTMLInputElement).value).toBe("agent_a");
    const password = byTestId("password-input") as HTMLInputElement;
    expect(password.type).toBe("password");
    expect(document.activeElement).toBe(password);
    expect(el.querySelector(`label[for="${password.id}"]`)?.textContent).toBe("Password");
    expect(el.querySelector('label[for="agent-id"]')?.textContent).toBe("Agent id");

    await type(password, "wrong");
    await click(byTestId("signin"));
    await until(() => !!byTestId("signin-error"), "the sign-in error");
    expect(byTestId("signin-error")!.getAttribute("role")).toBe("alert");
    expect(byTestId("signin-error")!.textContent).toBe("Wrong agent id or password.");
    expect(password.value).toBe("");
    expect(password.getAttribute("aria-invalid")).toBe("true");
    expect(password.getAttribute("aria-describedby")).toBe("signin-error");
    expect(document.activeElement).toBe(password);
    expect(sessionStorage.length).toBe(0);

    await type(password, PASSWORD);
    await click(byTestId("signin"));
    await until(() => byTestId("connection-status")?.getAttribute("data-state") === "open", "the console");
    expect(byTestId("signin-form")).toBeNull();
    // Every call carries the session: the streams, the queries, the mutations.
    expect(calls).toContain("watchAgent agent_a pcs_1");
    await until(() => calls.includes("listSites pcs_1"), "ListSites");
    expect(JSON.parse(sessionStorage.getItem("proactivechat.console.session")!)).toMatchObject({ agentId: "agent_a", token: "pcs_1" });
    const status = byTestId("status-select") as HTMLSelectElement;
    await act(async () => {
      status.value = String(AgentStatus.AWAY);
      status.dispatchEvent(new Event("change", { bubbles: true }));
    });
    await until(() => calls.includes("setAgentStatus pcs_1"), "SetAgentStatus");
    const withCredentials = calls.filter((c) => !c.startsWith("signIn "));
    expect(withCredentials.length).toBeGreaterThanOrEqual(3);
    expect(withCredentials.filter((c) => !c.endsWith(" pcs_1"))).toEqual([]);

    // Sign out: the session ends on the server; back to the sign-in screen, the id remembered.
    await click(byTestId("sign-out"));
    await until(() => !!byTestId("signin-form"), "the sign-in screen");
    await until(() => calls.includes("signOut pcs_1"), "SignOut");
    expect(byTestId("signin-notice")).toBeNull();
    expect(sessionStorage.getItem("proactivechat.console.session")).toBeNull();
    window.history.replaceState(null, "", "/agent/");
    expect((byTestId("agent-id-input") as HTMLInputElement).value).toBe("agent_a");
  });

  it("asks for an e-mail, not an agent id, and tells the console whose it is", async () => {
    const { server, byTestId, el } = await mount();
    expect(byTestId("agent-id-input")).toBeNull();
    const login = byTestId("login-input") as HTMLInputElement;
    expect(el.querySelector(`label[for="${login.id}"]`)?.textContent).toBe("E-mail");
    expect(document.activeElement).toBe(login);
    await type(login, "nobody@shop.example");
    await type(byTestId("password-input"), PASSWORD);
    await click(byTestId("signin"));
    await until(() => !!byTestId("signin-error"), "the sign-in error");
    expect(byTestId("signin-error")!.textContent).toBe("Wrong e-mail or password.");

    await type(login, "Ann@Shop.example");
    await type(byTestId("password-input"), PASSWORD);
    await click(byTestId("signin"));
    await until(() => byTestId("connection-status")?.getAttribute("data-state") === "open", "the console");
    expect(server.calls).toContain("signIn login Ann@Shop.example");
    expect(server.calls).toContain("watchAgent agent_a pcs_1");
    expect(localStorage.getItem("proactivechat.console.login")).toBe("Ann@Shop.example");
  });

  it("goes back to the sign-in screen when the session is revoked (streams end UNAUTHENTICATED)", async () => {
    const { server, byTestId } = await mount({ signedIn: true });
    await until(() => byTestId("connection-status")?.getAttribute("data-state") === "open", "the console");
    await act(async () => server.revoke());
    await until(() => !!byTestId("signin-form"), "the sign-in screen");
    expect(byTestId("signin-notice")!.textContent).toBe(SESSION_ENDED);
    expect(byTestId("signin-notice")!.getAttribute("role")).toBe("status");
    expect(sessionStorage.getItem("proactivechat.console.session")).toBeNull();
  });

  it("goes back to the sign-in screen when a call is refused UNAUTHENTICATED", async () => {
    const { server, byTestId } = await mount({ signedIn: true });
    await until(() => byTestId("connection-status")?.getAttribute("data-state") === "open", "the console");
    // The session expired; the streams have not noticed yet.
    server.revoke(true);
    const status = byTestId("status-select") as HTMLSelectElement;
    await act(async () => {
      status.value = String(AgentStatus.AWAY);
      status.dispatchEvent(new Event("change", { bubbles: true }));
    });
    await until(() => !!byTestId("signin-form"), "the sign-in screen");
    expect(byTestId("signin-notice")!.textContent).toBe(SESSION_ENDED);
  });
});

describe("The admin page", () => {
  it("reads with the session, and saves with an admin API key it asks for", async () => {
    window.history.replaceState(null, "", "/agent/#/admin");
    const { server, byTestId } = await mount({ signedIn: true });
    const { calls } = server;
    await until(() => !!byTestId("site-settings"), "the site's settings");
    const save = byTestId("save-settings") as HTMLButtonElement;
    await click(byTestId("pc-enabled"));
    expect(save.disabled).toBe(true);
    expect(byTestId("settings-need-key")!.textContent).toContain("admin API key");

    // A key the server does not know is refused; the session stays.
    await type(byTestId("admin-key-input"), "pca_bad");
    await click(byTestId("admin-key-save"));
    await until(() => !!byTestId("admin-key-error"), "the key's error");
    expect(byTestId("admin-key-error")!.textContent).toContain("does not know this key");
    expect(calls).toContain("listWebhooks pca_bad");
    // An agent's session is not an admin key.
    await type(byTestId("admin-key-input"), "pcs_1");
    await click(byTestId("admin-key-save"));
    await until(() => !!byTestId("admin-key-error")?.textContent?.includes("not an admin API key"), "the key's error");
    expect(byTestId("signin-form")).toBeNull();

    await type(byTestId("admin-key-input"), ADMIN_KEY);
    await click(byTestId("admin-key-save"));
    await until(() => !!byTestId("admin-key-status"), "the key in use");
    expect(sessionStorage.getItem("proactivechat.console.adminKey")).toBe(ADMIN_KEY);
    expect(save.disabled).toBe(false);
    await click(save);
    await until(() => !!byTestId("settings-saved"), "Saved");
    expect(calls).toContain(`updateSite proactive_chat.enabled ${ADMIN_KEY}`);
    // The key goes only where it is needed: reading is done with the session.
    expect(calls.filter((c) => c.startsWith("listSites")).every((c) => c === "listSites pcs_1")).toBe(true);
    expect(calls.filter((c) => c.includes(ADMIN_KEY))).toEqual([`listWebhooks ${ADMIN_KEY}`, `updateSite proactive_chat.enabled ${ADMIN_KEY}`]);

    // A key revoked meanwhile is forgotten, with a message; the agent stays signed in.
    server.revokeAdminKeys();
    await type(byTestId("launcher-label"), "Ask us");
    await click(save);
    await until(() => !!byTestId("admin-key-error"), "the refused key's message");
    expect(byTestId("admin-key-error")!.textContent).toBe(ADMIN_KEY_REFUSED);
    expect(calls.at(-1)).toBe(`updateSite visitor_launcher.label ${ADMIN_KEY}`);
    expect(sessionStorage.getItem("proactivechat.console.adminKey")).toBeNull();
    expect(byTestId("signin-form")).toBeNull();
    expect(byTestId("save-settings")).toHaveProperty("disabled", true);
  });

  it("accepts an admin API key scoped to the site, which may not list keys", async () => {
    window.history.replaceState(null, "", "/agent/#/admin");
    const { server, byTestId } = await mount({ signedIn: true });
    await until(() => !!byTestId("site-settings"), "the site's settings");
    await type(byTestId("admin-key-input"), SCOPED_KEY);
    await click(byTestId("admin-key-save"));
    await until(() => !!byTestId("admin-key-status"), "the scoped key in use");
    expect(sessionStorage.getItem("proactivechat.console.adminKey")).toBe(SCOPED_KEY);
    await click(byTestId("pc-enabled"));
    await click(byTestId("save-settings"));
    await until(() => !!byTestId("settings-saved"), "Saved");
    expect(server.calls).toContain(`updateSite proactive_chat.enabled ${SCOPED_KEY}`);
  });
});
