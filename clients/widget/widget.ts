// Widget is the visitor's side of proactive chat: it keeps the visitor's
// session, holds the visitor's stream and shows what the stream says —
// invitation, form, queue, chat — and sends what the visitor does.

import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { ChatEndReason, ParticipantRole, type ChatEvent, type Typing } from "../gen/proactivechat/v1/chat_pb";
import { ChatService } from "../gen/proactivechat/v1/chat_service_pb";
import { InvitationState } from "../gen/proactivechat/v1/engagement_pb";
import { EngagementState } from "../gen/proactivechat/v1/visitor_pb";
import { VisitorService, type VisitorState } from "../gen/proactivechat/v1/visitor_service_pb";
import { BadRequestSchema } from "./error_details_pb";
import { checkForm } from "./form";
import { ActivityTracker, clientInfo, deviceClass, referrer } from "./activity";
import { DeviceClass } from "../gen/proactivechat/v1/site_pb";
import type { AttributeChange, IdentityInit } from "./identity";
import { page } from "./page";
import { Storage } from "./storage";
import { backoff, VisitorStream } from "./stream";
import { messageFields, View } from "./view";

export interface Clients {
  visitor: Client<typeof VisitorService>;
  chat: Client<typeof ChatService>;
}

/** Auth is what the transport needs from the widget: the visitor's credential. */
export interface Auth {
  /** The token of the visitor's session ("" before StartVisitorSession answers). */
  token(): string;
  /** The server refused a call's token (UNAUTHENTICATED): the visitor was erased, say. */
  refused(token: string): void;
}

/**
 * bearer sends the visitor's token as "Authorization: Bearer <token>" on
 * every call once the session has one (StartVisitorSession needs none), and
 * reports a token the server refused on a unary call (streams report their
 * own failures, see VisitorStream).
 */
export function bearer(auth: Auth): Interceptor {
  return (next) => async (req) => {
    const token = auth.token();
    if (token) req.header.set("Authorization", `Bearer ${token}`);
    try {
      return await next(req);
    } catch (err) {
      if (token && !req.stream && ConnectError.from(err).code === Code.Unauthenticated) auth.refused(token);
      throw err;
    }
  };
}

/** clients returns the widget's clients on transport (the tests' is in memory). */
export function clients(transport: Transport): Clients {
  return { visitor: createClient(VisitorService, transport), chat: createClient(ChatService, transport) };
}

/** connect returns clients for the server at baseUrl (the origin widget.js came from). */
export function connect(baseUrl: string, auth: Auth): Clients {
  return clients(createConnectTransport({ baseUrl, useBinaryFormat: false, interceptors: [bearer(auth)] }));
}

interface ChatView {
  id: string;
  agent: string;
  open: boolean;
  closed: boolean;
  ended: boolean;
  /** The visitor is rating the chat (or did): leaving it keeps the panel. */
  rating: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Failures worth retrying as they are: the network, or a server going away.
function transient(err: unknown): boolean {
  const code = ConnectError.from(err).code;
  return code === Code.Unavailable || code === Code.Unknown || code === Code.DeadlineExceeded || code === Code.Aborted;
}

/** retry calls fn until it succeeds or fails for a reason other than the network. */
async function retry<T>(fn: () => Promise<T>, tries = 5): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt + 1 >= tries || !transient(err)) throw err;
      await sleep(backoff(attempt));
    }
  }
}

function randomKey(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** originRefused is what the site's owner reads in the console when the page's origin may not embed the widget. */
export function originRefused(origin: string, siteId: string): string {
  return (
    `Proactive Chat: this page's origin ${origin} is not in site ${siteId}'s allowed_origins; ` +
    `add it with UpdateSite (PATCH /v1/sites/${siteId}?update_mask=allowed_origins, ` +
    `body {"allowedOrigins": [..., "${origin}"]}). The widget will not retry.`
  );
}

const endText: Record<number, string> = {
  [ChatEndReason.INACTIVE]: "The chat ended because nobody wrote for a while.",
};

export class Widget {
  readonly view: View;
  visitorId = "";
  stream?: VisitorStream;
  readonly api: Clients;
  /** The visitor's token: the credential of every call after StartVisitorSession. */
  private token = "";
  private store: Storage;
  private chat?: ChatView;
  private invitationId = "";
  private fields: NonNullable<VisitorState["form"]>["fields"] = [];
  private submitting = false;
  private sending = new Set<string>();
  private typingSince = 0;
  private typingStop?: ReturnType<typeof setTimeout>;
  private lastUrl = "";
  /** The request_id of the message being left: a retry sends the same, so it is stored once. */
  private messageKey = "";
  private leaving = false;
  private queued = false;
  /** Reports scroll depth, exit intent and interaction once the session exists. */
  private activity?: ActivityTracker;
  /**
   * The attributes the page set (a value) or unset (null) with
   * ProactiveChat("set"/"unset") on this page load: sent once the session
   * exists, and again after anything that replaces the identity (a new
   * session, identify), so a later identity does not undo them.
   */
  private attributes = new Map<string, string | null>();
  /** identify and attribute changes go one after the other, in the page's order. */
  private serial: Promise<void> = Promise.resolve();
  /** What stop undoes. */
  private teardown: (() => void)[] = [];

  /**
   * api makes the clients, given how they find the visitor's token (see
   * connect); identity is who the page says the visitor is, if it knows.
   */
  constructor(
    private siteId: string,
    api: (auth: Auth) => Clients,
    private identity?: IdentityInit,
  ) {
    this.api = api({
      token: () => this.token,
      // Its stream is refused too: reopening it finds out and starts a new session.
      refused: (token) => {
        if (token === this.token) this.stream?.restart();
      },
    });
    this.store = new Storage(`proactivechat.${siteId}.`);
    this.view = new View({
      accept: () => void this.accept(),
      decline: () => void this.decline(),
      submit: (v) => void this.submit(v),
      close: () => void this.close(),
      send: (t) => void this.send(t),
      typing: () => this.typing(),
      requestChat: () => void this.requestChat(),
      rate: (score, comment) => void this.rate(score, comment),
      leaveMessage: (v) => void this.leaveMessage(v),
    });
  }

  async start(): Promise<void> {
    document.body.append(this.view.host);
    try {
      await this.session();
    } catch (err) {
      // This page may not embed the site's widget: trying again changes
      // nothing until the site's owner lists the origin. Say what to do, once.
      if (ConnectError.from(err).code !== Code.PermissionDenied) throw err;
      this.view.host.remove();
      console.warn(originRefused(location.origin, this.siteId));
      return;
    }
    let opened = "";
    this.activity = new ActivityTracker({
      send: (activity, pageUrl) => this.api.visitor.reportActivity({ visitorId: this.visitorId, activity, pageUrl }),
      pageUrl: () => this.lastUrl,
      desktop: deviceClass(window) === DeviceClass.DESKTOP,
    });
    this.stream = new VisitorStream({
      open: (resume, signal) => {
        const p = page(location, document.title);
        this.onPage(p.url);
        opened = this.token;
        return this.api.visitor.watchVisitor(
          { visitorId: this.visitorId, pageUrl: p.url, pageTitle: p.title, pageReferrer: referrer(document.referrer), ...resume },
          { signal },
        );
      },
      handlers: {
        // Activity counts once the visitor is online (the stream is open);
        // a stream reopened is a server that may have forgotten it.
        state: (s) => {
          this.activity?.start();
          this.onState(s);
        },
        chatEvent: (e, isNew) => this.onChatEvent(e, isNew),
        typing: (t) => this.onTyping(t),
        connection: (up) => {
          this.view.reconnecting(!up);
          if (up) this.activity?.resend();
        },
        // The visitor is unknown (NOT_FOUND) or its token refused
        // (UNAUTHENTICATED, e.g. erased): a new session, unless another tab
        // already made one.
        lost: async () => {
          if (this.store.get("token") === opened) this.store.set("token", "");
          this.token = "";
          await this.session();
        },
      },
    });
    const wake = () => this.stream?.wakeUp();
    const visible = () => document.visibilityState === "visible" && wake();
    addEventListener("online", wake);
    document.addEventListener("visibilitychange", visible);
    // Pages that change without loading (single-page apps) are reported too.
    const pages = setInterval(() => void this.pageChanged(), 2000);
    this.teardown.push(() => {
      removeEventListener("online", wake);
      document.removeEventListener("visibilitychange", visible);
      clearInterval(pages);
    });
    await this.stream.run();
  }

  /**
   * stop tears the widget down: its stream closes, its listeners and
   * timers go (nothing more is reported) and it leaves the page.
   */
  stop(): void {
    this.stream?.stop();
    for (const f of this.teardown.splice(0)) f();
    this.activity?.stop();
    this.view.host.remove();
  }

  /** onPage notes the page now reported; another page starts its activity over. */
  private onPage(url: string): void {
    if (url === this.lastUrl) return;
    this.lastUrl = url;
    this.activity?.newPage();
  }

  /**
   * identify says who the visitor is (the page's ProactiveChat("identify",
   * {...})): sent now if the session has started, else with its start.
   */
  identify(identity: IdentityInit): Promise<void> {
    this.identity = identity;
    if (!this.visitorId) return this.serial;
    return this.inTurn(async () => {
      try {
        await this.api.visitor.identifyVisitor({ visitorId: this.visitorId, identity });
      } catch (err) {
        console.warn("proactive chat: identify was refused:", ConnectError.from(err).rawMessage);
        return;
      }
      // The identity replaced the attributes: the page's own changes stand.
      await this.sendAttributes();
    });
  }

  /**
   * setAttributes applies the page's ProactiveChat("set", {...}) and
   * ("unset", [...]) with UpdateVisitorAttributes, now if the session has
   * started, else once it has (as identify).
   */
  setAttributes(change: AttributeChange): Promise<void> {
    for (const k of change.remove) this.attributes.set(k, null);
    for (const [k, v] of Object.entries(change.set)) this.attributes.set(k, v);
    if (!this.visitorId) return this.serial;
    return this.inTurn(() => this.sendAttributes(change));
  }

  /** inTurn runs fn after the identify and attribute calls before it. */
  private inTurn(fn: () => Promise<void>): Promise<void> {
    this.serial = this.serial.then(fn, fn);
    return this.serial;
  }

  /** sendAttributes sends change, or all the page's attribute changes. Refusals are the page's mistakes: said on the console. */
  private async sendAttributes(change?: AttributeChange): Promise<void> {
    if (!change) {
      change = { set: {}, remove: [] };
      for (const [k, v] of this.attributes) {
        if (v === null) change.remove.push(k);
        else change.set[k] = v;
      }
    }
    if (Object.keys(change.set).length === 0 && change.remove.length === 0) return;
    try {
      await retry(() => this.api.visitor.updateVisitorAttributes({ visitorId: this.visitorId, set: change.set, remove: change.remove }));
    } catch (err) {
      console.warn("proactive chat: the attributes were refused:", ConnectError.from(err).rawMessage);
    }
  }

  /**
   * session starts (or resumes, with the kept token) the visitor's session,
   * retrying while the network fails. An identity the server refuses (a
   * wrong identity hash, say) is reported on the console and left out: the
   * visitor still gets the chat.
   */
  private async session(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const identity = this.identity;
        const client = clientInfo(window);
        const res = await this.api.visitor
          .startVisitorSession({ siteId: this.siteId, resumeToken: this.store.get("token"), identity, clientInfo: client })
          .catch((err) => {
            if (!identity || ConnectError.from(err).code !== Code.InvalidArgument) throw err;
            console.warn("proactive chat: the visitor's identity was refused:", ConnectError.from(err).rawMessage);
            this.identity = undefined;
            return this.api.visitor.startVisitorSession({ siteId: this.siteId, resumeToken: this.store.get("token"), clientInfo: client });
          });
        this.visitorId = res.visitor?.id ?? "";
        this.token = res.token;
        this.store.set("token", res.token);
        if (!res.resumed) this.store.set("open", "");
        // The page said something new while the session was starting;
        // its attribute changes go after whatever identity the session took.
        if (this.identity && this.identity !== identity) void this.identify(this.identity);
        else void this.inTurn(() => this.sendAttributes());
        return;
      } catch (err) {
        if (!transient(err)) throw err;
        await sleep(backoff(attempt));
      }
    }
  }

  private async pageChanged(): Promise<void> {
    const p = page(location, document.title);
    if (!this.visitorId || !p.url || p.url === this.lastUrl) return;
    this.onPage(p.url);
    try {
      await this.api.visitor.reportPageView({
        visitorId: this.visitorId,
        url: p.url,
        title: p.title,
        referrer: referrer(document.referrer),
      });
    } catch {
      // The next stream reopening reports the page anyway.
    }
  }

  onState(s: VisitorState): void {
    const v = this.view;
    v.setLauncher(s.launcher?.label ?? "");
    v.offerMessage(s.siteStatus?.offerMessage ?? false);
    this.queued = s.engagement === EngagementState.QUEUED || s.engagement === EngagementState.ALERTING;
    // The visitor is writing (or just left) a message: that stays on screen
    // until closed, unless a chat begins.
    if ((v.mode === "message" || v.mode === "sent") && s.engagement !== EngagementState.CHATTING) return;
    switch (s.engagement) {
      case EngagementState.INVITED: {
        const inv = s.invitation;
        if (inv?.state === InvitationState.PENDING && !(v.mode === "invite" && this.invitationId === inv.id)) {
          this.invitationId = inv.id;
          v.showInvite(inv.text);
        }
        return;
      }
      case EngagementState.FILLING_FORM:
        this.store.set("open", "1");
        this.fields = s.form?.fields ?? [];
        if (v.mode !== "form") v.showForm(this.fields);
        return;
      case EngagementState.QUEUED:
      case EngagementState.ALERTING:
        if (s.queue) {
          this.store.set("open", "1");
          v.showQueue(s.queue.position, Number(s.queue.estimatedWait?.seconds ?? 0));
        }
        return;
      case EngagementState.CHATTING:
        if (s.chat) {
          const c = this.useChat(s.chat.id);
          c.agent = s.chat.agent?.displayName || c.agent;
          // With invite the visitor was waiting for this; without, the
          // window opens on the agent's first message.
          // A page loaded mid-chat reopens it too, without taking focus on phones.
          const waiting = v.mode === "form" || v.mode === "queue";
          if (waiting || this.store.get("open")) this.openChat(!waiting);
        }
        return;
      default:
        // Browsing: nothing to show, except a chat that ended while open.
        if (v.mode !== "chat") {
          v.hide();
          this.store.set("open", "");
        }
    }
  }

  private useChat(id: string): ChatView {
    if (this.chat?.id !== id) {
      this.chat = { id, agent: "", open: false, closed: false, ended: false, rating: false };
      this.sending.clear();
      this.view.clearChat();
    }
    return this.chat;
  }

  private openChat(unprompted = false): void {
    const c = this.chat;
    if (!c || c.closed) return;
    this.store.set("open", "1");
    if (!c.open || this.view.mode !== "chat") {
      c.open = true;
      this.view.showChat(c.agent, unprompted);
    }
  }

  onChatEvent(e: ChatEvent, newChat: boolean): void {
    const c = this.useChat(e.chatId);
    if (c.closed) return;
    // The stream starts this chat over (first time, or after its resume
    // point was refused): draw it from the start.
    if (newChat) this.view.clearChat();
    const v = this.view;
    const k = e.kind;
    switch (k.case) {
      case "started":
        c.agent = k.value.agent?.displayName || c.agent;
        v.chatTitle(c.agent);
        v.notice(`You are chatting with ${c.agent || "an agent"}.`);
        break;
      case "message": {
        const m = k.value;
        const mine = m.sender?.role === ParticipantRole.VISITOR;
        if (mine) this.sending.delete(m.idempotencyKey);
        const at = e.time && timestampDate(e.time);
        v.message(mine ? "You" : m.sender?.displayName || c.agent, m.text, mine, mine ? m.idempotencyKey : "", at);
        if (!mine) this.openChat(true);
        break;
      }
      case "participantLeft":
        if (k.value.participant?.role === ParticipantRole.AGENT) {
          v.notice(`${k.value.participant.displayName || c.agent} left the chat. You can close this window.`);
          v.composer(false);
          v.showRating();
        } else if (k.value.participant?.id === this.visitorId) {
          // Closed here or in another tab; kept open while rating.
          c.closed = true;
          if (v.mode === "chat" && !c.rating) v.hide();
          this.store.set("open", "");
        }
        break;
      case "ended":
        c.ended = true;
        v.composer(false);
        v.typing("");
        v.notice(endText[k.value.reason] ?? "The chat has ended.");
        v.showRating();
        break;
      case "transferred":
        // Another agent took the chat over; it goes on as before.
        c.agent = k.value.to?.displayName || c.agent;
        v.chatTitle(c.agent);
        v.typing("");
        v.notice(`${c.agent || "Another agent"} has taken over.`);
        break;
      case "inactivityWarning": {
        const secs = Number((k.value.endTime?.seconds ?? 0n) - (e.time?.seconds ?? 0n));
        const mins = Math.max(1, Math.round(secs / 60));
        v.notice(`This chat closes in about ${mins} min unless someone writes.`);
        break;
      }
    }
  }

  onTyping(t: Typing): void {
    const c = this.chat;
    if (!c || t.chatId !== c.id || t.participant?.role !== ParticipantRole.AGENT) return;
    this.view.typing(t.typing ? t.participant.displayName || c.agent : "");
  }

  private async accept(): Promise<void> {
    this.store.set("open", "1");
    try {
      const res = await retry(() =>
        this.api.visitor.respondToInvitation({ visitorId: this.visitorId, invitationId: this.invitationId, accept: true }),
      );
      if (res.state) this.onState(res.state);
    } catch {
      // Expired or withdrawn meanwhile: the stream's next state says what to show.
      this.view.hide();
      this.store.set("open", "");
    }
  }

  /** requestChat is the launcher: the visitor asks for a chat (the form or the queue follows). */
  private async requestChat(): Promise<void> {
    this.store.set("open", "1");
    try {
      const res = await retry(() => this.api.visitor.requestChat({ visitorId: this.visitorId }));
      if (res.state) this.onState(res.state);
    } catch {
      // Refused (the launcher was turned off, say): the stream's next state says what to show.
      this.store.set("open", "");
      this.view.hide();
    }
  }

  /**
   * rate sends the visitor's rating. A visitor still in the chat (the agent
   * left) leaves it first: a chat is rated once the visitor is done.
   */
  private async rate(score: number, comment: string): Promise<void> {
    const c = this.chat;
    if (!c) return;
    c.rating = true;
    try {
      if (!c.ended && !c.closed) {
        c.closed = true;
        this.stopTyping();
        await retry(() => this.api.chat.leaveChat({ chatId: c.id, participantId: this.visitorId }));
      }
      await retry(() => this.api.chat.rateChat({ chatId: c.id, visitorId: this.visitorId, score, comment }));
      this.view.ratingDone("Thanks for your feedback!");
    } catch (err) {
      this.view.ratingDone("", transient(err) ? "Could not send your rating. Please try again." : ConnectError.from(err).rawMessage);
    }
  }

  private async decline(): Promise<void> {
    this.view.hide();
    this.store.set("open", "");
    try {
      await retry(() =>
        this.api.visitor.respondToInvitation({ visitorId: this.visitorId, invitationId: this.invitationId, accept: false }),
      );
    } catch {
      // The invitation expires by itself.
    }
  }

  private async submit(values: Record<string, string>): Promise<void> {
    const errors = checkForm(this.fields, values);
    if (Object.keys(errors).length > 0) {
      this.view.formErrors(errors);
      return;
    }
    if (this.submitting) return;
    this.submitting = true;
    try {
      const res = await retry(() => this.api.visitor.submitForm({ visitorId: this.visitorId, values }));
      if (res.state) this.onState(res.state);
    } catch (err) {
      const ce = ConnectError.from(err);
      const server: Record<string, string> = {};
      let general = "";
      for (const br of ce.findDetails(BadRequestSchema)) {
        for (const fv of br.fieldViolations) {
          const key = fv.field.startsWith("values.") ? fv.field.slice(7) : "";
          if (key && this.fields.some((f) => f.key === key)) server[key] = server[key] || fv.description;
          else general ||= fv.description;
        }
      }
      if (Object.keys(server).length === 0 && !general) {
        general = transient(err) ? "Could not send the form. Please try again." : ce.rawMessage;
      }
      this.view.formErrors(server, general);
    } finally {
      this.submitting = false;
    }
  }

  /**
   * leaveMessage sends the "Leave a message" form, retrying with the same
   * request_id; a visitor who was queued leaves the queue once it is stored.
   */
  private async leaveMessage(values: Record<string, string>): Promise<void> {
    const errors = checkForm(messageFields, values);
    if (Object.keys(errors).length > 0) {
      this.view.formErrors(errors);
      return;
    }
    if (this.leaving) return;
    this.leaving = true;
    this.messageKey ||= randomKey();
    try {
      await retry(() =>
        this.api.visitor.leaveMessage({
          visitorId: this.visitorId,
          name: values.name.trim(),
          email: values.email.trim(),
          text: values.text,
          pageUrl: page(location, document.title).url,
          requestId: this.messageKey,
        }),
      );
      this.messageKey = "";
      this.view.showSent();
      if (this.queued) await retry(() => this.api.visitor.leaveQueue({ visitorId: this.visitorId })).catch(() => {});
    } catch (err) {
      const ce = ConnectError.from(err);
      const server: Record<string, string> = {};
      let general = "";
      for (const br of ce.findDetails(BadRequestSchema)) {
        for (const fv of br.fieldViolations) {
          if (messageFields.some((f) => f.key === fv.field)) server[fv.field] ||= fv.description;
          else general ||= fv.description;
        }
      }
      if (Object.keys(server).length === 0 && !general) {
        general = transient(err) ? "Could not send the message. Please try again." : ce.rawMessage;
      }
      this.view.formErrors(server, general);
    } finally {
      this.leaving = false;
    }
  }

  private async close(): Promise<void> {
    const mode = this.view.mode;
    if (mode === "invite") return this.decline();
    this.view.hide();
    this.store.set("open", "");
    const c = this.chat;
    try {
      if (mode === "form" || mode === "queue") {
        await retry(() => this.api.visitor.leaveQueue({ visitorId: this.visitorId }));
      } else if (mode === "chat" && c && !c.closed) {
        c.closed = true;
        this.stopTyping();
        if (!c.ended) await retry(() => this.api.chat.leaveChat({ chatId: c.id, participantId: this.visitorId }));
      }
    } catch {
      // Already out of the queue or the chat.
    }
  }

  private async send(text: string): Promise<void> {
    const c = this.chat;
    if (!c || c.closed || c.ended) return;
    if (new TextEncoder().encode(text).length > 4096) {
      this.view.notice("That message is too long (4096 bytes at most). Please shorten it.");
      return;
    }
    this.stopTyping();
    const key = randomKey();
    this.sending.add(key);
    this.view.pendingMessage(key, text);
    // The same key on every retry: the server stores the message once.
    for (let attempt = 0; this.sending.has(key); attempt++) {
      try {
        await this.api.chat.sendMessage({ chatId: c.id, senderId: this.visitorId, text, idempotencyKey: key });
        this.view.pendingStatus(key, "");
        return;
      } catch (err) {
        if (!transient(err)) {
          this.sending.delete(key);
          this.view.pendingStatus(key, `not sent: ${ConnectError.from(err).rawMessage}`);
          return;
        }
        this.view.pendingStatus(key, "not sent yet, retrying\u2026");
        await sleep(backoff(attempt));
      }
    }
  }

  // typing tells the agent the visitor is typing: at most every 3 s while
  // keys are pressed, and "stopped" 4 s after the last one (or on send).
  private typing(): void {
    const c = this.chat;
    if (!c || c.closed || c.ended) return;
    const now = Date.now();
    if (now - this.typingSince > 3000) {
      this.typingSince = now;
      this.setTyping(true);
    }
    clearTimeout(this.typingStop);
    this.typingStop = setTimeout(() => this.stopTyping(), 4000);
  }

  private stopTyping(): void {
    clearTimeout(this.typingStop);
    if (this.typingSince) {
      this.typingSince = 0;
      this.setTyping(false);
    }
  }

  private setTyping(typing: boolean): void {
    const c = this.chat;
    if (!c) return;
    this.api.chat.setTyping({ chatId: c.id, senderId: this.visitorId, typing }).catch(() => {});
  }
}
