// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from "vitest";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { ChatEventSchema, ChatSchema, ParticipantRole, TypingSchema } from "../gen/proactivechat/v1/chat_pb";
import { FormFieldSchema, FormFieldType } from "../gen/proactivechat/v1/site_pb";
import { InvitationState } from "../gen/proactivechat/v1/engagement_pb";
import { EngagementState } from "../gen/proactivechat/v1/visitor_pb";
import { VisitorStateSchema, type VisitorState } from "../gen/proactivechat/v1/visitor_service_pb";
import { BadRequestSchema } from "./error_details_pb";
import { View, type Actions } from "./view";
import { originRefused, Widget, type Clients } from "./widget";

const xss = "<img src=x onerror=alert(1)>";

function noActions(): Actions {
  return {
    accept: vi.fn(),
    decline: vi.fn(),
    submit: vi.fn(),
    close: vi.fn(),
    send: vi.fn(),
    typing: vi.fn(),
    requestChat: vi.fn(),
    rate: vi.fn(),
    leaveMessage: vi.fn(),
  };
}

function mount(actions = noActions()) {
  const v = new View(actions);
  document.body.append(v.host);
  return { v, actions, $: (sel: string) => v.root.querySelector(sel) as HTMLElement | null };
}

afterEach(() => {
  document.body.replaceChildren();
  localStorage.clear();
});

describe("View", () => {
  it("shows messages, names and notices as text, never markup", () => {
    const { v } = mount();
    v.showInvite(xss);
    v.showChat(xss);
    v.message(xss, xss, false);
    v.message("You", xss, true);
    v.pendingMessage("k1", xss);
    v.notice(xss);
    v.typing(xss);
    expect(v.root.querySelectorAll("img").length).toBe(0);
    const log = v.root.querySelector(".log")!;
    expect(log.textContent).toContain(xss);
    expect(log.querySelectorAll(".msg").length).toBe(3);
  });

  it("is a labelled dialog with a polite message log", () => {
    const { v, $ } = mount();
    v.showChat("Dana");
    const dialog = $("[role=dialog]")!;
    const title = v.root.getElementById(dialog.getAttribute("aria-labelledby")!)!;
    expect(title.textContent).toBe("Dana");
    const log = $("[role=log]")!;
    expect(log.getAttribute("aria-live")).toBe("polite");
    // The message box has a label; it takes focus only when focus is in the widget.
    const box = $("textarea")!;
    expect(v.root.querySelector(`label[for=${box.id}]`)?.textContent).toBe("Message");
    expect(v.root.activeElement).toBeNull();
  });

  it("moves focus along with the visitor: from the form, through the queue, to the message box", () => {
    const { v } = mount();
    v.showForm([create(FormFieldSchema, { key: "name", label: "Your name", type: FormFieldType.TEXT })]);
    (v.root.querySelector("#pc-f-name") as HTMLInputElement).focus();
    v.showQueue(1, 0);
    expect(document.activeElement).toBe(v.host); // on the panel, not lost to the page
    v.showChat("Dana");
    expect(v.root.activeElement?.id).toBe("pc-msg");
  });

  it("sends on Enter, keeps Shift+Enter for a new line", () => {
    const { v, actions, $ } = mount();
    v.showChat("Dana");
    const box = $("textarea") as HTMLTextAreaElement;
    box.value = "hello";
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", shiftKey: true, bubbles: true }));
    expect(actions.send).not.toHaveBeenCalled();
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(actions.send).toHaveBeenCalledWith("hello");
    expect(box.value).toBe("");
  });

  it("invites with Yes and No buttons, announced, without taking focus", () => {
    const { v, actions } = mount();
    v.showInvite("Can we help?");
    const buttons = [...v.root.querySelectorAll(".body button")] as HTMLButtonElement[];
    expect(buttons.map((b) => b.textContent)).toEqual(["Yes", "No"]);
    expect(v.root.activeElement).toBeNull();
    expect(v.root.querySelector("[aria-live=polite].sr")!.textContent).toBe("Chat invitation: Can we help?");
    buttons[1]!.click();
    expect(actions.decline).toHaveBeenCalled();
  });

  it("does not take focus from the page: not from an input, not from a button or link", () => {
    for (const tag of ["input", "button", "a"] as const) {
      const el = document.createElement(tag);
      if (tag === "a") el.setAttribute("href", "#");
      document.body.append(el);
      el.focus();
      const { v } = mount();
      v.showInvite("Can we help?");
      v.showForm([create(FormFieldSchema, { key: "name", label: "Your name", type: FormFieldType.TEXT })]);
      v.formErrors({ name: "Your name is required" });
      v.showChat("Dana");
      expect(document.activeElement).toBe(el);
      document.body.replaceChildren();
    }
  });

  it("shows a badge with the unread count and a preview while minimised, announced; cleared when opened", () => {
    const { v, $ } = mount();
    v.showChat("Dana");
    v.message("Dana", "Hello", false);
    expect($(".badge")!.hidden).toBe(true);
    v.minimise(true);
    v.message("You", "mine", true);
    v.message("Dana", "Are you still there?", false);
    v.message("Dana", "We have a discount on lamps this week, ask me about the Walnut Arc and its matching shade.", false);
    const badge = $(".badge")!;
    expect(badge.hidden).toBe(false);
    expect(badge.textContent).toBe("2");
    expect($(".preview")!.textContent).toBe("Dana: We have a discount on lamps this week, ask me about the\u2026");
    expect($(".head button")!.getAttribute("aria-label")).toBe("Restore (2 unread)");
    const live = $("[aria-live=polite].sr")!;
    expect(live.textContent).toContain("New message from Dana: We have a discount");
    ($(".head button") as HTMLButtonElement).click(); // Restore
    expect(badge.hidden).toBe(true);
    expect($(".preview")!.textContent).toBe("");
    expect($(".head button")!.getAttribute("aria-label")).toBe("Minimise");
  });

  it("announces the message that opens the chat (the log was not shown yet)", () => {
    const { v, $ } = mount();
    v.message("Dana", "Hello! Can I help?", false);
    v.showChat("Dana", true);
    expect($("[aria-live=polite].sr")!.textContent).toBe("New message from Dana: Hello! Can I help?");
    expect($(".badge")!.hidden).toBe(true);
  });

  it("shows each message's time, local HH:MM", () => {
    const { v, $ } = mount();
    v.showChat("Dana");
    v.message("Dana", "Hello", false, "", new Date(2026, 11, 7, 9, 5, 30));
    expect($(".msg .who")!.textContent).toBe("Dana \u00b7 09:05");
    expect($(".msg")!.dataset.time).toBe(new Date(2026, 11, 7, 9, 5, 30).toISOString());
  });

  it("marks required fields, labels every field and shows errors beside them", () => {
    const { v, actions } = mount();
    v.showForm([
      create(FormFieldSchema, { key: "name", label: "Your name", type: FormFieldType.TEXT, required: true }),
      create(FormFieldSchema, { key: "email", label: "E-mail", type: FormFieldType.EMAIL, required: true }),
      create(FormFieldSchema, { key: "question", label: "How can we help?", type: FormFieldType.TEXTAREA }),
    ]);
    const inputs = [...v.root.querySelectorAll(".body input, .body textarea")] as HTMLInputElement[];
    expect(inputs.map((i) => i.id)).toEqual(["pc-f-name", "pc-f-email", "pc-f-question"]);
    for (const i of inputs) expect(v.root.querySelector(`label[for=${i.id}]`)).not.toBeNull();
    expect(v.root.querySelectorAll("label .req").length).toBe(2);
    expect(inputs[1]!.type).toBe("email");
    expect(inputs[2]!.tagName).toBe("TEXTAREA");
    expect(v.root.activeElement).toBeNull(); // not asked for

    // Asked for (Yes): the form takes focus on its first field.
    v.showInvite("Can we help?");
    (v.root.querySelector(".body button") as HTMLButtonElement).click();
    v.showForm([
      create(FormFieldSchema, { key: "name", label: "Your name", type: FormFieldType.TEXT, required: true }),
      create(FormFieldSchema, { key: "email", label: "E-mail", type: FormFieldType.EMAIL, required: true }),
      create(FormFieldSchema, { key: "question", label: "How can we help?", type: FormFieldType.TEXTAREA }),
    ]);
    inputs.splice(0, 3, ...([...v.root.querySelectorAll(".body input, .body textarea")] as HTMLInputElement[]));
    expect(v.root.activeElement).toBe(inputs[0]);

    v.formErrors({ email: "E-mail must be an e-mail address like name@example.com" });
    expect(inputs[1]!.getAttribute("aria-invalid")).toBe("true");
    const err = v.root.getElementById(inputs[1]!.getAttribute("aria-describedby")!)!;
    expect(err.textContent).toBe("E-mail must be an e-mail address like name@example.com");
    expect(v.root.activeElement).toBe(inputs[1]);

    inputs[0]!.value = "Bo";
    (v.root.querySelector("button[type=submit]") as HTMLButtonElement).click();
    expect(actions.submit).toHaveBeenCalledWith({ name: "Bo", email: "", question: "" });
  });

  it("shows the place in the queue and the estimated wait", () => {
    const { v, $ } = mount();
    v.showQueue(3, 150);
    expect($(".titles h2")!.textContent).toBe("Waiting in Queue");
    expect($("[role=status]#pc-queue")!.textContent).toBe("You are number 3 in the queue.Estimated wait: about 3 min.");
    // No estimate yet (no waits seen on the site).
    v.showQueue(1, 0);
    expect($("#pc-queue")!.textContent).toBe("You are number 1 in the queue.An agent will be with you soon.");
  });
});

// Widget with clients that answer from the test.
function widget(overrides: Partial<{ [K in keyof Clients["visitor"] | keyof Clients["chat"]]: unknown }> = {}) {
  const fn = (name: string) => vi.fn((overrides as Record<string, unknown>)[name] as never ?? (async () => ({})));
  const clients = {
    visitor: {
      respondToInvitation: fn("respondToInvitation"),
      submitForm: fn("submitForm"),
      leaveQueue: fn("leaveQueue"),
      requestChat: fn("requestChat"),
      leaveMessage: fn("leaveMessage"),
    },
    chat: { sendMessage: fn("sendMessage"), setTyping: fn("setTyping"), leaveChat: fn("leaveChat"), rateChat: fn("rateChat") },
  } as unknown as Clients;
  const w = new Widget("site_test", () => clients);
  w.visitorId = "visitor_1";
  document.body.append(w.view.host);
  return { w, clients, root: w.view.root };
}

const chatState = (): VisitorState =>
  create(VisitorStateSchema, {
    engagement: EngagementState.CHATTING,
    chat: create(ChatSchema, { id: "chat_1", agent: { role: ParticipantRole.AGENT, id: "agent_demo", displayName: "Dana" } }),
  });
const started = () =>
  create(ChatEventSchema, {
    chatId: "chat_1",
    seq: 1,
    kind: { case: "started", value: { agent: { role: ParticipantRole.AGENT, displayName: "Dana" } } },
  });
const message = (seq: number, role: ParticipantRole, text: string, key = "") =>
  create(ChatEventSchema, {
    chatId: "chat_1",
    seq,
    kind: {
      case: "message",
      value: { text, idempotencyKey: key, sender: { role, id: role === ParticipantRole.AGENT ? "agent_demo" : "visitor_1", displayName: role === ParticipantRole.AGENT ? "Dana" : "Visitor" } },
    },
  });

describe("Widget", () => {
  it("offers to leave a message when nobody can chat, and sends it once however often it is retried", async () => {
    let calls = 0;
    const { w, clients, root } = widget({
      leaveMessage: async () => {
        if (++calls === 1) throw new ConnectError("network", Code.Unavailable);
        return {};
      },
    });
    const closed = create(VisitorStateSchema, { engagement: EngagementState.BROWSING, siteStatus: { open: false, offerMessage: true } });
    w.onState(closed);
    const launcher = root.querySelector(".msg-launcher") as HTMLButtonElement;
    expect(launcher.hidden).toBe(false);
    launcher.click();
    expect(w.view.mode).toBe("message");
    expect(launcher.hidden).toBe(true);
    // Another state (the site's status, say) leaves the form as it is.
    w.onState(closed);
    expect(w.view.mode).toBe("message");

    (root.querySelector("button[type=submit]") as HTMLButtonElement).click();
    expect(root.getElementById("pc-e-email")!.textContent).toBe("E-mail is required");
    (root.getElementById("pc-f-name") as HTMLInputElement).value = "Grace";
    (root.getElementById("pc-f-email") as HTMLInputElement).value = "grace@example.com";
    (root.getElementById("pc-f-text") as HTMLTextAreaElement).value = "Do you ship to Norway?";
    (root.querySelector("button[type=submit]") as HTMLButtonElement).click();
    await vi.waitFor(() => expect(w.view.mode).toBe("sent"), { timeout: 5000 });
    const sent = vi.mocked(clients.visitor.leaveMessage).mock.calls.map((c) => c[0] as { requestId: string; name: string });
    expect(sent.length).toBe(2);
    expect(sent[0].requestId).not.toBe("");
    expect(sent[1].requestId).toBe(sent[0].requestId);
    expect(sent[1].name).toBe("Grace");
    expect(clients.visitor.leaveQueue).not.toHaveBeenCalled();
  });

  it("offers a message from the queue when the wait is long, and leaves the queue once it is sent", async () => {
    const { w, clients, root } = widget();
    w.onState(create(VisitorStateSchema, { engagement: EngagementState.QUEUED, queue: { position: 4 }, siteStatus: { open: true } }));
    const leave = root.getElementById("pc-leave") as HTMLButtonElement;
    expect(leave.hidden).toBe(true);
    w.onState(create(VisitorStateSchema, { engagement: EngagementState.QUEUED, queue: { position: 4 }, siteStatus: { open: true, offerMessage: true } }));
    expect(leave.hidden).toBe(false);
    leave.click();
    expect(w.view.mode).toBe("message");
    (root.getElementById("pc-f-name") as HTMLInputElement).value = "Grace";
    (root.getElementById("pc-f-email") as HTMLInputElement).value = "grace@example.com";
    (root.getElementById("pc-f-text") as HTMLTextAreaElement).value = "Call me";
    (root.querySelector("button[type=submit]") as HTMLButtonElement).click();
    await vi.waitFor(() => expect(clients.visitor.leaveQueue).toHaveBeenCalledWith({ visitorId: "visitor_1" }));
    expect(w.view.mode).toBe("sent");
  });

  it("without invite, opens the chat on the agent's first message, not when the chat starts", () => {
    const { w } = widget();
    w.onState(create(VisitorStateSchema, { engagement: EngagementState.BROWSING }));
    expect(w.view.host.hidden).toBe(true);
    w.onState(chatState());
    w.onChatEvent(started(), true);
    expect(w.view.host.hidden).toBe(true);
    w.onChatEvent(message(2, ParticipantRole.AGENT, xss), false);
    expect(w.view.host.hidden).toBe(false);
    expect(w.view.mode).toBe("chat");
    expect(w.view.root.querySelectorAll("img").length).toBe(0);
    expect(w.view.root.querySelector(".log")!.textContent).toContain("You are chatting with Dana.");
  });

  it("with invite, goes invitation → form → queue → chat", async () => {
    const form = create(VisitorStateSchema, {
      engagement: EngagementState.FILLING_FORM,
      form: { fields: [create(FormFieldSchema, { key: "email", label: "E-mail", type: FormFieldType.EMAIL, required: true })] },
    });
    const { w, clients, root } = widget({ respondToInvitation: async () => ({ state: form }) });
    w.onState(
      create(VisitorStateSchema, {
        engagement: EngagementState.INVITED,
        invitation: { id: "inv_1", state: InvitationState.PENDING, text: "Hi! Can we help?" },
      }),
    );
    expect(w.view.mode).toBe("invite");
    (root.querySelector(".body button") as HTMLButtonElement).click();
    await vi.waitFor(() => expect(w.view.mode).toBe("form"));
    expect(clients.visitor.respondToInvitation).toHaveBeenCalledWith({ visitorId: "visitor_1", invitationId: "inv_1", accept: true });

    // Checked in the browser first: nothing is sent.
    (root.querySelector("button[type=submit]") as HTMLButtonElement).click();
    expect(root.getElementById("pc-e-email")!.textContent).toBe("E-mail is required");
    expect(clients.visitor.submitForm).not.toHaveBeenCalled();

    w.onState(create(VisitorStateSchema, { engagement: EngagementState.QUEUED, queue: { position: 2, estimatedWait: { seconds: 30n } } }));
    expect(w.view.mode).toBe("queue");
    // The chat opens as soon as it starts: the visitor was waiting for it.
    w.onState(chatState());
    expect(w.view.mode).toBe("chat");
    expect(root.querySelector("h2")!.textContent).toBe("Dana");
  });

  it("shows the server's field errors beside their fields", async () => {
    const bad = new ConnectError("invalid", Code.InvalidArgument, undefined, [
      {
        desc: BadRequestSchema,
        value: { fieldViolations: [{ field: "values.email", description: "E-mail is not deliverable" }, { field: "values.zzz", description: "is not a field of this form" }] },
      },
    ]);
    const { w, root } = widget({
      submitForm: async () => {
        throw bad;
      },
    });
    w.onState(
      create(VisitorStateSchema, {
        engagement: EngagementState.FILLING_FORM,
        form: { fields: [create(FormFieldSchema, { key: "email", label: "E-mail", type: FormFieldType.EMAIL, required: true })] },
      }),
    );
    (root.getElementById("pc-f-email") as HTMLInputElement).value = "bo@example.com";
    (root.querySelector("button[type=submit]") as HTMLButtonElement).click();
    await vi.waitFor(() => expect(root.getElementById("pc-e-email")!.textContent).toBe("E-mail is not deliverable"));
    expect(root.querySelector("[role=alert]")!.textContent).toBe("is not a field of this form");
  });

  it("sends with one idempotency key, retried after a network failure, and shows the message once", async () => {
    let calls = 0;
    const { w, clients, root } = widget({
      sendMessage: async () => {
        if (++calls === 1) throw new ConnectError("network", Code.Unavailable);
        return {};
      },
    });
    w.onState(chatState());
    w.onChatEvent(started(), true);
    w.onChatEvent(message(2, ParticipantRole.AGENT, "Hello!"), false);
    const box = root.querySelector("textarea")!;
    box.value = "Hi there";
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    await vi.waitFor(() => expect(clients.chat.sendMessage).toHaveBeenCalledTimes(2), { timeout: 3000 });
    const [a, b] = (clients.chat.sendMessage as unknown as { mock: { calls: [{ idempotencyKey: string; senderId: string }][] } }).mock.calls;
    expect(a![0].idempotencyKey).toMatch(/^[0-9a-f]{32}$/);
    expect(b![0].idempotencyKey).toBe(a![0].idempotencyKey);
    expect(a![0].senderId).toBe("visitor_1");
    // The stream brings the stored message: it replaces the pending one.
    w.onChatEvent(message(3, ParticipantRole.VISITOR, "Hi there", a![0].idempotencyKey), false);
    const mine = [...root.querySelectorAll(".msg.me")];
    expect(mine.length).toBe(1);
    expect(mine[0]!.classList.contains("pending")).toBe(false);
  });

  it("shows the agent typing, inactivity warnings and the end of the chat", () => {
    const { w, root } = widget();
    w.onState(chatState());
    w.onChatEvent(message(1, ParticipantRole.AGENT, "Hello!"), true);
    w.onTyping(create(TypingSchema, { chatId: "chat_1", typing: true, participant: { role: ParticipantRole.AGENT, displayName: "Dana" } }));
    expect(root.querySelector(".typing")!.textContent).toBe("Dana is typing\u2026");
    w.onChatEvent(
      create(ChatEventSchema, { chatId: "chat_1", seq: 2, time: { seconds: 1000n }, kind: { case: "inactivityWarning", value: { endTime: { seconds: 1120n } } } }),
      false,
    );
    w.onChatEvent(create(ChatEventSchema, { chatId: "chat_1", seq: 3, kind: { case: "ended", value: { reason: 3 } } }), false);
    const text = root.querySelector(".log")!.textContent!;
    expect(text).toContain("This chat closes in about 2 min unless someone writes.");
    expect(text).toContain("The chat ended because nobody wrote for a while.");
    expect((root.querySelector("textarea") as HTMLTextAreaElement).disabled).toBe(true);
  });

  it("shows who took over a transferred chat, in the header and the log", () => {
    const { w, root } = widget();
    w.onState(chatState());
    w.onChatEvent(started(), true);
    w.onChatEvent(message(2, ParticipantRole.AGENT, "Hello!"), false);
    w.onChatEvent(
      create(ChatEventSchema, {
        chatId: "chat_1",
        seq: 3,
        kind: {
          case: "transferred",
          value: { from: { role: ParticipantRole.AGENT, id: "agent_demo", displayName: "Dana" }, to: { role: ParticipantRole.AGENT, id: "agent_sam", displayName: "Sam" } },
        },
      }),
      false,
    );
    expect(root.getElementById("pc-title")!.textContent).toBe("Sam");
    expect(root.querySelector(".log")!.textContent).toContain("Sam has taken over.");
    expect((root.querySelector("textarea") as HTMLTextAreaElement).disabled).toBe(false);
  });

  it("shows each message's time from the event's server timestamp", () => {
    const { w, root } = widget();
    w.onState(chatState());
    const at = new Date(2026, 11, 7, 14, 3, 59);
    const e = message(1, ParticipantRole.AGENT, "Hello!");
    e.time = timestampFromDate(at);
    w.onChatEvent(e, true);
    expect(root.querySelector(".msg .who")!.textContent).toBe("Dana \u00b7 14:03");
  });

  it("on a page whose origin the site does not allow, stops at the first refusal and says once what to add", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const startVisitorSession = vi.fn(async () => {
      throw new ConnectError('origin "http://localhost:3000" may not embed the widget of site "site_test"', Code.PermissionDenied);
    });
    const w = new Widget("site_test", () => ({ visitor: { startVisitorSession }, chat: {} }) as unknown as Clients);
    await w.start(); // resolves: nothing left to do
    expect(startVisitorSession).toHaveBeenCalledTimes(1);
    expect(w.stream).toBeUndefined();
    expect(w.view.host.isConnected).toBe(false);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toBe(originRefused(location.origin, "site_test"));
    expect(warn.mock.calls[0]![0]).toMatch(
      /^Proactive Chat: this page's origin http:\/\/localhost(:\d+)? is not in site site_test's allowed_origins; add it with UpdateSite \(/,
    );
    warn.mockRestore();
  });

  it("closing leaves the chat; closing in the queue leaves the queue", async () => {
    const { w, clients, root } = widget();
    w.onState(create(VisitorStateSchema, { engagement: EngagementState.QUEUED, queue: { position: 1 } }));
    (root.querySelector("button[aria-label=Close]") as HTMLButtonElement).click();
    expect(w.view.host.hidden).toBe(true);
    await vi.waitFor(() => expect(clients.visitor.leaveQueue).toHaveBeenCalledWith({ visitorId: "visitor_1" }));

    w.onState(chatState());
    w.onChatEvent(message(1, ParticipantRole.AGENT, "Hello!"), true);
    (root.querySelector("button[aria-label=Close]") as HTMLButtonElement).click();
    expect(w.view.host.hidden).toBe(true);
    await vi.waitFor(() => expect(clients.chat.leaveChat).toHaveBeenCalledWith({ chatId: "chat_1", participantId: "visitor_1" }));
  });

  it("shows the launcher while browsing; it asks for a chat and the form takes focus", async () => {
    const form = create(VisitorStateSchema, {
      engagement: EngagementState.FILLING_FORM,
      form: { fields: [create(FormFieldSchema, { key: "name", label: "Name", type: FormFieldType.TEXT, required: true })] },
    });
    const { w, clients, root } = widget({ requestChat: async () => ({ state: form }) });
    const launcher = () => root.querySelector(".chat-launcher") as HTMLButtonElement;
    w.onState(create(VisitorStateSchema, { engagement: EngagementState.DECLINED, launcher: { enabled: true, label: "Chat with us" } }));
    expect(launcher().hidden).toBe(false);
    expect(launcher().textContent).toBe("Chat with us");
    expect(launcher().getAttribute("type")).toBe("button");
    expect(w.view.host.hidden).toBe(true);
    expect(root.activeElement).toBe(null); // shown without taking focus
    launcher().focus();
    launcher().click();
    await vi.waitFor(() => expect(w.view.mode).toBe("form"));
    expect(clients.visitor.requestChat).toHaveBeenCalledWith({ visitorId: "visitor_1" });
    expect(launcher().hidden).toBe(true);
    expect(root.activeElement?.id).toBe("pc-f-name");
    // No launcher in the state: none shown, even once the panel hides.
    w.onState(create(VisitorStateSchema, { engagement: EngagementState.BROWSING }));
    expect(launcher().hidden).toBe(true);
  });

  it("shows the chat launcher and Leave a message together, stacked in one column; either opens its view", () => {
    const { w, root } = widget();
    const chatBtn = root.querySelector(".chat-launcher") as HTMLButtonElement;
    const msgBtn = root.querySelector(".msg-launcher") as HTMLButtonElement;
    w.onState(
      create(VisitorStateSchema, {
        engagement: EngagementState.BROWSING,
        launcher: { enabled: true, label: "Chat with us" },
        siteStatus: { open: false, offerMessage: true },
      }),
    );
    expect(chatBtn.hidden).toBe(false);
    expect(msgBtn.hidden).toBe(false);
    // One column container: they never sit on top of each other.
    expect(chatBtn.parentElement).toBe(msgBtn.parentElement);
    expect(chatBtn.parentElement?.classList.contains("launchers")).toBe(true);
    msgBtn.click();
    expect(w.view.mode).toBe("message");
    expect(chatBtn.hidden).toBe(true);
    expect(msgBtn.hidden).toBe(true);
  });

  it("after the chat ends, asks for a rating (a labelled radio group) without taking focus, sends it, thanks", async () => {
    const { w, clients, root } = widget();
    w.onState(chatState());
    w.onChatEvent(message(1, ParticipantRole.AGENT, "Hello!"), true);
    const box = root.querySelector("textarea") as HTMLTextAreaElement;
    const outside = document.createElement("input");
    document.body.append(outside);
    outside.focus();
    w.onChatEvent(create(ChatEventSchema, { chatId: "chat_1", seq: 2, kind: { case: "ended", value: { reason: 1 } } }), false);
    expect(document.activeElement).toBe(outside);
    const group = root.querySelector("[role=radiogroup]")!;
    expect(root.getElementById(group.getAttribute("aria-labelledby")!)!.textContent).toBe("How was this chat?");
    const radios = [...group.querySelectorAll("input[type=radio]")] as HTMLInputElement[];
    expect(radios.length).toBe(5);
    expect(root.querySelector(`label[for=${radios[4].id}]`)!.textContent).toContain("5 of 5 stars, Excellent");
    expect(box.closest("form")!.hidden).toBe(true);
    // Send without a score: asks for one.
    const form = root.querySelector("form.rate") as HTMLFormElement;
    form.requestSubmit();
    expect(form.querySelector(".err")!.textContent).toBe("Please pick 1 to 5 stars.");
    expect(clients.chat.rateChat).not.toHaveBeenCalled();
    radios[4].click();
    (root.getElementById("pc-rate-c") as HTMLTextAreaElement).value = "Great help";
    form.requestSubmit();
    await vi.waitFor(() => expect(root.querySelector(".thanks")?.textContent).toBe("Thanks for your feedback!"));
    expect(clients.chat.rateChat).toHaveBeenCalledWith({ chatId: "chat_1", visitorId: "visitor_1", score: 5, comment: "Great help" });
    expect(clients.chat.leaveChat).not.toHaveBeenCalled(); // the chat had ended
  });

  it("when the agent left, rating leaves the chat first and keeps the panel; Skip just removes the question", async () => {
    const { w, clients, root } = widget();
    w.onState(chatState());
    w.onChatEvent(message(1, ParticipantRole.AGENT, "Hello!"), true);
    const agentLeft = create(ChatEventSchema, {
      chatId: "chat_1",
      seq: 2,
      kind: { case: "participantLeft", value: { participant: { role: ParticipantRole.AGENT, id: "agent_demo", displayName: "Dana" } } },
    });
    w.onChatEvent(agentLeft, false);
    (root.querySelector("input[value='3']") as HTMLInputElement).click();
    (root.querySelector("form.rate") as HTMLFormElement).requestSubmit();
    await vi.waitFor(() => expect(clients.chat.rateChat).toHaveBeenCalled());
    expect(clients.chat.leaveChat).toHaveBeenCalledWith({ chatId: "chat_1", participantId: "visitor_1" });
    const visitorLeft = create(ChatEventSchema, {
      chatId: "chat_1",
      seq: 3,
      kind: { case: "participantLeft", value: { participant: { role: ParticipantRole.VISITOR, id: "visitor_1" } } },
    });
    w.onChatEvent(visitorLeft, false);
    expect(w.view.host.hidden).toBe(false);
    await vi.waitFor(() => expect(root.querySelector(".thanks")).not.toBe(null));

    const skipped = widget();
    skipped.w.onState(chatState());
    skipped.w.onChatEvent(message(1, ParticipantRole.AGENT, "Hi"), true);
    skipped.w.onChatEvent(agentLeft, false);
    const skip = [...skipped.root.querySelectorAll("form.rate button")].find((b) => b.textContent === "Skip") as HTMLButtonElement;
    skip.click();
    expect(skipped.root.querySelector("form.rate")).toBe(null);
    expect(skipped.clients.chat.rateChat).not.toHaveBeenCalled();
  });
});
