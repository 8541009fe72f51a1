// View draws the widget in a shadow root: one panel (a non-modal dialog)
// whose body is the invitation, the form, the queue or the chat. It knows
// nothing of the server; Actions are what the visitor did.

import { create } from "@bufbuild/protobuf";
import type { FormField } from "../gen/proactivechat/v1/site_pb";
import { FormFieldSchema, FormFieldType } from "../gen/proactivechat/v1/site_pb";
import { h, text } from "./dom";
import { css } from "./style";

export interface Actions {
  accept(): void;
  decline(): void;
  submit(values: Record<string, string>): void;
  close(): void;
  send(text: string): void;
  typing(): void;
  /** The launcher button: the visitor asks for a chat. */
  requestChat(): void;
  /** The visitor rated the chat (score 1–5) after it. */
  rate(score: number, comment: string): void;
  /** The visitor sends the "Leave a message" form (name, email, text). */
  leaveMessage(values: Record<string, string>): void;
}

const stars = ["Poor", "Fair", "Good", "Very good", "Excellent"];

export type Mode = "hidden" | "invite" | "form" | "queue" | "chat" | "message" | "sent";

/** messageFields is the "Leave a message" form, checked like any form (form.ts). */
export const messageFields: FormField[] = [
  create(FormFieldSchema, { key: "name", label: "Name", type: FormFieldType.TEXT, required: true, maxLength: 200 }),
  create(FormFieldSchema, { key: "email", label: "E-mail", type: FormFieldType.EMAIL, required: true, maxLength: 254 }),
  create(FormFieldSchema, { key: "text", label: "Message", type: FormFieldType.TEXTAREA, required: true, maxLength: 4000 }),
];

export class View {
  readonly host: HTMLElement;
  readonly root: ShadowRoot;
  mode: Mode = "hidden";
  private panel: HTMLElement;
  private title: HTMLElement;
  private status: HTMLElement;
  private minBtn: HTMLButtonElement;
  private body: HTMLElement;
  private chat: HTMLElement;
  private log: HTMLElement;
  private typingEl: HTMLElement;
  private box: HTMLTextAreaElement;
  private sendBtn: HTMLButtonElement;
  private fieldErrors = new Map<string, HTMLElement>();
  private formError?: HTMLElement;
  private pending = new Map<string, HTMLElement>();
  private typingTimer?: ReturnType<typeof setTimeout>;
  private badge: HTMLElement;
  private preview: HTMLElement;
  private live: HTMLElement;
  private unread = 0;
  /** The visitor just asked for the next view (Yes, Send): it may take focus (Safari focuses no clicked button). */
  private asked = false;
  private launcherBtn: HTMLButtonElement;
  private launcherLabel = "";
  private rating?: HTMLElement;
  private composerEl: HTMLElement;
  /** The "Leave a message" button, shown while nothing else is and nobody can chat. */
  private launcher: HTMLButtonElement;
  private offer = false;

  constructor(private actions: Actions) {
    this.host = h("proactive-chat-widget" as "div", { hidden: true });
    this.root = this.host.attachShadow({ mode: "open" });
    this.title = h("h2", { id: "pc-title" });
    this.status = h("span", { class: "status", role: "status" });
    this.badge = h("span", { class: "badge", hidden: true });
    this.preview = h("span", { class: "preview" });
    // What the visitor did not ask to see (an invitation, a message while
    // minimised) is announced here; focus stays where the visitor left it.
    // It stays rendered while the panel is hidden (see :host([hidden]) in
    // style.ts), or screen readers would not hear what makes it appear.
    this.live = h("p", { class: "sr", "aria-live": "polite" });
    this.minBtn = h("button", { type: "button", "aria-label": "Minimise", "aria-expanded": "true" }, "\u2013");
    const closeBtn = h("button", { type: "button", "aria-label": "Close" }, "\u00d7");
    this.minBtn.onclick = () => this.minimise(!this.panel.classList.contains("min"));
    closeBtn.onclick = () => actions.close();
    this.body = h("div", { class: "body" });

    this.log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Messages" });
    this.typingEl = h("div", { class: "typing" });
    this.box = h("textarea", { id: "pc-msg", rows: "1", placeholder: "Write a message\u2026" });
    this.sendBtn = h("button", { type: "submit", class: "btn primary" }, "Send");
    const composer = h(
      "form",
      { class: "composer" },
      h("label", { class: "sr", for: "pc-msg" }, "Message"),
      this.box,
      this.sendBtn,
    );
    this.box.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.sendBtn.click();
      }
    });
    this.box.addEventListener("input", () => actions.typing());
    composer.addEventListener("submit", (e) => {
      e.preventDefault();
      const t = this.box.value;
      if (t.trim() === "" || this.box.disabled) return;
      this.box.value = "";
      actions.send(t);
    });
    this.composerEl = composer;
    this.chat = h("div", { class: "chat", hidden: true }, this.log, this.typingEl, composer);
    this.launcherBtn = h("button", { type: "button", class: "launcher chat-launcher", hidden: true });
    this.launcherBtn.onclick = () => {
      this.launcherBtn.hidden = true;
      this.asked = true;
      actions.requestChat();
    };

    this.panel = h(
      "div",
      { class: "panel", role: "dialog", "aria-labelledby": "pc-title", tabindex: "-1" },
      h(
        "div",
        { class: "head" },
        h("div", { class: "titles" }, h("div", { class: "line" }, this.title, this.badge), this.status, this.preview),
        this.minBtn,
        closeBtn,
      ),
      this.body,
      this.chat,
    );
    this.panel.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        if (this.mode === "invite") actions.decline();
        else this.minimise(true);
      }
    });
    this.launcher = h("button", { type: "button", class: "btn primary launcher msg-launcher", hidden: true }, "Leave a message");
    this.launcher.onclick = () => {
      this.asked = true;
      this.showMessageForm();
    };
    // Both launchers may show at once (the site's chat button, and "Leave a
    // message" when nobody can chat): they stack, never overlap.
    this.root.append(h("style", {}, css), this.panel, h("div", { class: "launchers" }, this.launcher, this.launcherBtn), this.live);
  }

  /** setLauncher is the launcher's label, "" for none; it shows while the panel is hidden. */
  setLauncher(label: string): void {
    this.launcherLabel = label;
    text(this.launcherBtn, label);
    this.launcherBtn.hidden = !label || this.mode !== "hidden";
  }

  /**
   * showRating asks, below the ended chat, how it was: five stars (a radio
   * group), an optional comment, Send and Skip. It takes no focus.
   */
  showRating(): void {
    if (this.rating) return;
    const radios = stars.map((name, i) =>
      h("input", { type: "radio", name: "pc-score", value: String(i + 1), id: `pc-s${i + 1}` }),
    );
    const labels = radios.map((r, i) =>
      h("label", { for: r.id, title: stars[i] }, h("span", { "aria-hidden": "true" }, "\u2605"), h("span", { class: "sr" }, `${i + 1} of 5 stars, ${stars[i]}`)),
    );
    const group = h("div", { class: "stars", role: "radiogroup", "aria-labelledby": "pc-rate-q" });
    radios.forEach((r, i) => group.append(r, labels[i]));
    const paint = () => {
      const n = Number(radios.find((r) => r.checked)?.value ?? 0);
      labels.forEach((l, i) => l.classList.toggle("on", i < n));
    };
    group.addEventListener("change", paint);
    const comment = h("textarea", { id: "pc-rate-c", rows: "2", maxlength: "1000", placeholder: "Anything to add? (optional)" });
    const err = h("p", { class: "err", role: "alert" });
    const send = h("button", { type: "submit", class: "btn primary" }, "Send");
    const skip = h("button", { type: "button", class: "btn" }, "Skip");
    const form = h(
      "form",
      { class: "rate", "aria-labelledby": "pc-rate-q" },
      h("p", { id: "pc-rate-q", class: "q" }, "How was this chat?"),
      group,
      h("label", { class: "sr", for: "pc-rate-c" }, "Comment"),
      comment,
      err,
      h("div", { class: "actions" }, send, skip),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const score = Number(radios.find((r) => r.checked)?.value ?? 0);
      if (!score) {
        text(err, "Please pick 1 to 5 stars.");
        radios[0]?.focus();
        return;
      }
      text(err, "");
      send.disabled = skip.disabled = true;
      this.actions.rate(score, comment.value);
    });
    skip.onclick = () => this.ratingDone("");
    this.rating = form;
    this.composerEl.hidden = true;
    this.chat.append(form);
    this.announce("How was this chat? You can rate it below the messages.");
  }

  /** ratingDone replaces the rating form with thanks (or nothing, skipped); error shows why sending failed. */
  ratingDone(thanks: string, error = ""): void {
    const f = this.rating;
    if (!f) return;
    if (error) {
      text(f.querySelector(".err")!, error);
      f.querySelectorAll("button").forEach((b) => (b.disabled = false));
      return;
    }
    const hadFocus = this.root.activeElement !== null && f.contains(this.root.activeElement);
    const done = h("p", { class: "note thanks", role: "status", tabindex: "-1" }, thanks);
    if (thanks) f.replaceWith(done);
    else f.remove();
    if (hadFocus) (thanks ? done : this.panel).focus();
  }

  /** offerMessage shows (or hides) the ways to leave a message: nobody can chat now, or the wait is long. */
  offerMessage(on: boolean): void {
    this.offer = on;
    this.launcherShow();
    const leave = this.root.getElementById("pc-leave");
    if (leave) leave.hidden = !on;
  }

  private launcherShow(): void {
    this.launcher.hidden = !(this.offer && this.mode === "hidden");
  }

  private open(mode: Mode, title: string): void {
    // Focus in the view being replaced stays in the widget (on the panel).
    const had = this.hasFocus();
    this.mode = mode;
    text(this.title, title);
    this.body.replaceChildren();
    this.body.hidden = mode === "chat";
    this.chat.hidden = mode !== "chat";
    this.fieldErrors.clear();
    this.host.hidden = false;
    this.launcherBtn.hidden = true;
    this.launcherShow();
    if (had && !this.hasFocus()) this.panel.focus();
  }

  hide(): void {
    this.mode = "hidden";
    this.host.hidden = true;
    this.asked = false;
    this.minimise(false);
    this.launcherBtn.hidden = !this.launcherLabel;
    this.launcherShow();
  }

  minimise(min: boolean): void {
    this.panel.classList.toggle("min", min);
    if (!min) this.unread = 0;
    this.unreadShow();
    text(this.minBtn, min ? "\u25b4" : "\u2013");
  }

  /** unreadShow draws the unread count on the minimised bar (and in the restore button's name). */
  private unreadShow(): void {
    const min = this.panel.classList.contains("min");
    const n = this.unread;
    this.badge.hidden = n === 0;
    text(this.badge, String(n));
    if (n === 0) text(this.preview, "");
    this.minBtn.setAttribute("aria-expanded", String(!min));
    this.minBtn.setAttribute("aria-label", min ? (n ? `Restore (${n} unread)` : "Restore") : "Minimise");
  }

  /** announce says s in the live region (screen readers read it when they are idle). */
  announce(s: string): void {
    text(this.live, s);
  }

  private hasFocus(): boolean {
    return document.activeElement === this.host;
  }

  /** reconnecting shows (or clears) the quiet "Reconnecting…" note. */
  reconnecting(on: boolean): void {
    text(this.status, on ? "Reconnecting\u2026" : "");
  }

  /**
   * focus moves focus to el when focus is already in the widget, or when
   * the visitor just asked for this view and nothing in the page has focus:
   * the widget never takes focus from the page unasked.
   */
  focus(el: HTMLElement | null | undefined): void {
    const active = document.activeElement;
    const free = !active || active === document.body;
    if (el && (this.hasFocus() || (this.asked && free))) el.focus();
    this.asked = false;
  }

  showInvite(message: string): void {
    const yes = h("button", { type: "button", class: "btn primary" }, "Yes");
    const no = h("button", { type: "button", class: "btn" }, "No");
    yes.onclick = () => {
      yes.disabled = no.disabled = true;
      this.asked = true;
      this.actions.accept();
    };
    no.onclick = () => this.actions.decline();
    this.open("invite", "Chat with us");
    this.body.append(
      h("p", {}, message || "Would you like to chat with one of our agents?"),
      h("div", { class: "actions" }, yes, no),
    );
    this.announce(`Chat invitation: ${message || "Would you like to chat with one of our agents?"}`);
  }

  /** showMessageForm opens "Leave a message": name, e-mail and message for the agents to answer later. */
  showMessageForm(): void {
    this.showForm(messageFields, true);
  }

  /** showSent thanks the visitor for the message they left. */
  showSent(): void {
    this.open("sent", "Message sent");
    const ok = h("button", { type: "button", class: "btn" }, "Close");
    ok.onclick = () => this.actions.close();
    this.body.append(h("p", { role: "status" }, "Thank you. We will get back to you by e-mail."), h("div", { class: "actions" }, ok));
    this.focus(ok);
  }

  showForm(fields: FormField[], message = false): void {
    this.open(message ? "message" : "form", message ? "Leave a message" : "Before we start");
    const form = h("form", { novalidate: true });
    const inputs: [FormField, HTMLInputElement | HTMLTextAreaElement][] = [];
    if (message) form.append(h("p", {}, "Nobody can chat right now. Leave a message and we will reply by e-mail."));
    form.append(h("p", { class: "hint" }, "Fields marked ", h("span", { class: "req" }, "*"), " are required."));
    for (const f of fields) {
      const id = `pc-f-${f.key}`;
      const errId = `pc-e-${f.key}`;
      const attrs = {
        id,
        name: f.key,
        "aria-describedby": errId,
        "aria-required": f.required ? "true" : undefined,
      };
      const input =
        f.type === FormFieldType.TEXTAREA
          ? h("textarea", { ...attrs, rows: "3" })
          : h("input", {
              ...attrs,
              type: f.type === FormFieldType.EMAIL ? "email" : f.type === FormFieldType.PHONE ? "tel" : "text",
              autocomplete: f.type === FormFieldType.EMAIL ? "email" : f.type === FormFieldType.PHONE ? "tel" : undefined,
            });
      const err = h("p", { class: "err", id: errId });
      this.fieldErrors.set(f.key, err);
      inputs.push([f, input]);
      form.append(
        h(
          "div",
          { class: "field" },
          h("label", { for: id }, f.label, f.required && h("span", { class: "req", "aria-hidden": "true" }, "*")),
          input,
          err,
        ),
      );
    }
    this.formError = h("p", { class: "err", role: "alert" });
    const send = h("button", { type: "submit", class: "btn primary" }, "Send");
    form.append(this.formError, h("div", { class: "actions" }, send));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const values: Record<string, string> = {};
      for (const [f, input] of inputs) values[f.key] = input.value;
      this.asked = true;
      if (message) this.actions.leaveMessage(values);
      else this.actions.submit(values);
    });
    this.body.append(form);
    this.focus(inputs[0]?.[1] ?? send);
  }

  /** formErrors shows errors beside their fields (by key) and one for the whole form; focuses the first bad field. */
  formErrors(errors: Record<string, string>, general = ""): void {
    let first: HTMLElement | null = null;
    for (const [key, el] of this.fieldErrors) {
      const msg = errors[key] ?? "";
      text(el, msg);
      const input = this.root.getElementById(`pc-f-${key}`);
      if (msg) input?.setAttribute("aria-invalid", "true");
      else input?.removeAttribute("aria-invalid");
      if (msg && !first) first = input;
    }
    if (this.formError) text(this.formError, general);
    this.focus(first);
  }

  showQueue(position: number, waitSeconds: number): void {
    if (this.mode !== "queue") {
      this.open("queue", "Waiting in Queue");
      const leave = h("button", { type: "button", class: "btn", id: "pc-leave", hidden: !this.offer }, "Long wait? Leave a message instead");
      leave.onclick = () => {
        this.asked = true;
        this.showMessageForm();
      };
      this.body.append(
        h("div", { role: "status", "aria-live": "polite", id: "pc-queue" }),
        h("p", { class: "hint" }, "You can keep browsing: this window follows you."),
        leave,
      );
    }
    const place = `You are number ${position} in the queue.`;
    // No estimate yet (no waits seen on this site): say so plainly.
    let wait = "An agent will be with you soon.";
    if (waitSeconds > 0) {
      wait = waitSeconds < 60 ? "Estimated wait: less than a minute." : `Estimated wait: about ${Math.ceil(waitSeconds / 60)} min.`;
    }
    this.root.getElementById("pc-queue")?.replaceChildren(h("p", { class: "big" }, place), wait && h("p", {}, wait));
  }

  /**
   * showChat opens the chat. unprompted: the visitor did not ask (without
   * invite, or a page loaded mid-chat): focus stays where it is then, and
   * no keyboard pops up on phones.
   */
  showChat(agentName: string, unprompted = false): void {
    const wasOpen = this.mode === "chat";
    this.open("chat", agentName || "Chat");
    if (!wasOpen) {
      this.scroll();
      if (!unprompted) this.focus(this.box);
    }
  }

  chatTitle(agentName: string): void {
    if (this.mode === "chat") text(this.title, agentName);
  }

  /** clearChat empties the transcript for a new chat and enables writing. */
  clearChat(): void {
    this.rating?.remove();
    this.rating = undefined;
    this.chat.querySelector(".thanks")?.remove();
    this.composerEl.hidden = false;
    this.log.replaceChildren();
    this.unread = 0;
    this.unreadShow();
    this.pending.clear();
    this.typing("");
    this.composer(true);
  }

  composer(enabled: boolean): void {
    this.box.disabled = !enabled;
    this.sendBtn.disabled = !enabled;
  }

  /**
   * message adds a message as plain text, with its time (the server's,
   * shown local HH:MM). key is the idempotency key of the visitor's own
   * message. Another's message while minimised counts as unread.
   */
  message(who: string, body: string, mine: boolean, key = "", time?: Date): void {
    const el = h(
      "div",
      { class: mine ? "msg me" : "msg", "data-time": time?.toISOString() },
      h("span", { class: "who" }, time ? `${who} \u00b7 ${clock(time)}` : who),
      body,
    );
    const p = key ? this.pending.get(key) : undefined;
    if (p) {
      this.pending.delete(key);
      p.remove();
    }
    this.insert(el);
    if (!mine) {
      this.typing("");
      // The log is not shown (minimised, or the chat opens with this message): say it here.
      const min = this.panel.classList.contains("min");
      if (min || this.mode !== "chat") {
        const short = body.length > 60 ? `${body.slice(0, 60).replace(/\s+\S*$/, "")}\u2026` : body;
        this.announce(`New message from ${who}: ${short}`);
        if (min) {
          this.unread++;
          text(this.preview, `${who}: ${short}`);
          this.unreadShow();
        }
      }
    }
  }

  notice(s: string): void {
    this.insert(h("p", { class: "note" }, s));
  }

  /** pendingMessage shows the visitor's message until the server has it. */
  pendingMessage(key: string, body: string): void {
    const el = h("div", { class: "msg me pending" }, h("span", { class: "who" }, "You \u00b7 sending\u2026"), body);
    this.pending.set(key, el);
    this.log.append(el);
    this.scroll();
  }

  /** pendingStatus updates the note on a message not confirmed yet ("" once stored). */
  pendingStatus(key: string, note: string): void {
    const el = this.pending.get(key);
    if (!el) return;
    text(el.firstChild!, note ? `You \u00b7 ${note}` : "You");
    el.classList.toggle("pending", note !== "");
  }

  typing(who: string): void {
    clearTimeout(this.typingTimer);
    text(this.typingEl, who ? `${who} is typing\u2026` : "");
    // A lost "stopped typing" must not leave the indicator on.
    if (who) this.typingTimer = setTimeout(() => this.typing(""), 8000);
  }

  // Confirmed entries go above the visitor's pending messages.
  private insert(el: HTMLElement): void {
    const firstPending = this.pending.values().next().value as HTMLElement | undefined;
    this.log.insertBefore(el, firstPending ?? null);
    this.scroll();
  }

  private scroll(): void {
    this.log.scrollTop = this.log.scrollHeight;
  }
}

const pad = (n: number) => String(n).padStart(2, "0");

/** clock is a time of day, local HH:MM. */
const clock = (t: Date) => `${pad(t.getHours())}:${pad(t.getMinutes())}`;
