// The visitor's event stream: one WatchVisitor call at a time, reopened
// with exponential backoff and jitter when it fails, resuming after the
// last chat event shown so nothing is lost or shown twice.

import { Code, ConnectError } from "@connectrpc/connect";
import type { ChatEvent, Typing } from "../gen/proactivechat/v1/chat_pb";
import type { VisitorState, WatchVisitorResponse } from "../gen/proactivechat/v1/visitor_service_pb";

/** Resume is what a reopened stream asks for: the events after these. */
export interface Resume {
  resumeChatId: string;
  resumeAfterSeq: number;
}

/**
 * ChatCursor remembers the chat shown and the last sequence number applied.
 * Chat events are numbered 1, 2, 3… per chat; anything at or below the
 * last one was already shown.
 */
export class ChatCursor {
  chatId = "";
  lastSeq = 0;

  /** accept says what to do with an event: "new-chat" and "next" are applied, "duplicate" dropped. */
  accept(chatId: string, seq: number): "new-chat" | "next" | "duplicate" {
    if (chatId !== this.chatId) {
      this.chatId = chatId;
      this.lastSeq = seq;
      return "new-chat";
    }
    if (seq <= this.lastSeq) return "duplicate";
    this.lastSeq = seq;
    return "next";
  }

  resume(): Resume {
    return { resumeChatId: this.chatId, resumeAfterSeq: this.chatId ? this.lastSeq : 0 };
  }

  reset(): void {
    this.chatId = "";
    this.lastSeq = 0;
  }
}

/**
 * backoff is the wait before reconnect attempt n (0, 1, 2…): it doubles
 * from base up to cap, and a random part ("equal jitter": half fixed, half
 * random) keeps many widgets from coming back all at once after an outage.
 */
export function backoff(attempt: number, random: () => number = Math.random, base = 500, cap = 30_000): number {
  const d = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return Math.round(d / 2 + (random() * d) / 2);
}

export interface StreamHandlers {
  state(s: VisitorState): void;
  /** A chat event not shown before; newChat when it belongs to another chat than the last one. */
  chatEvent(e: ChatEvent, newChat: boolean): void;
  typing(t: Typing): void;
  /** connected is false while reconnecting, true again on the first message. */
  connection(connected: boolean): void;
  /** The visitor is unknown (NOT_FOUND) or its token refused (UNAUTHENTICATED): start a new session before reopening. */
  lost(): Promise<void>;
}

export interface StreamOptions {
  open(resume: Resume, signal: AbortSignal): AsyncIterable<WatchVisitorResponse>;
  handlers: StreamHandlers;
  /** Reopen when nothing (not even a keep-alive, every 20 s) came for this long. */
  idleMs?: number;
  /** A stream that lived this long starts the backoff over. */
  healthyMs?: number;
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
  random?(): number;
  now?(): number;
}

/** wait sleeps ms, or less when woken (the network came back) or stopped. */
function sleepFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/** VisitorStream keeps WatchVisitor open until stop(). */
export class VisitorStream {
  readonly cursor = new ChatCursor();
  attempts: number[] = [];
  private stopped = new AbortController();
  private wake = new AbortController();
  private call?: AbortController;

  constructor(private opts: StreamOptions) {}

  /** wakeUp cuts a backoff wait short, e.g. when the browser is back online. */
  wakeUp(): void {
    this.wake.abort();
  }

  /** restart closes the open stream and opens it again (after the usual backoff). */
  restart(): void {
    this.call?.abort();
  }

  /** stop closes the stream for good. */
  stop(): void {
    this.stopped.abort();
    this.wake.abort();
  }

  async run(): Promise<void> {
    const o = this.opts;
    const h = o.handlers;
    const now = o.now ?? Date.now;
    const sleep = o.sleep ?? sleepFor;
    let attempt = 0;
    let connected = true;
    while (!this.stopped.signal.aborted) {
      const call = (this.call = new AbortController());
      const stop = () => call.abort();
      this.stopped.signal.addEventListener("abort", stop);
      let idle: ReturnType<typeof setTimeout> | undefined;
      const kick = () => {
        clearTimeout(idle);
        idle = setTimeout(() => call.abort(), o.idleMs ?? 45_000);
      };
      const opened = now();
      try {
        kick();
        for await (const res of o.open(this.cursor.resume(), call.signal)) {
          kick();
          if (!connected) {
            connected = true;
            h.connection(true);
          }
          this.deliver(res);
        }
      } catch (err) {
        if (this.stopped.signal.aborted) break;
        const code = ConnectError.from(err).code;
        if (code === Code.NotFound || code === Code.Unauthenticated) {
          this.cursor.reset();
          try {
            await h.lost();
          } catch {
            // Retried after the backoff below.
          }
        } else if (code === Code.InvalidArgument) {
          // e.g. a resume point the server does not have: start over.
          this.cursor.reset();
        }
      } finally {
        clearTimeout(idle);
        this.stopped.signal.removeEventListener("abort", stop);
      }
      if (this.stopped.signal.aborted) break;
      if (connected) {
        connected = false;
        h.connection(false);
      }
      if (now() - opened >= (o.healthyMs ?? 10_000)) attempt = 0;
      const delay = backoff(attempt++, o.random);
      this.attempts.push(delay);
      if (this.wake.signal.aborted) this.wake = new AbortController();
      await sleep(delay, this.wake.signal);
    }
  }

  /** deliver hands one stream message to the handlers, dropping chat events already shown. */
  deliver(res: WatchVisitorResponse): void {
    const h = this.opts.handlers;
    const ev = res.event;
    switch (ev.case) {
      case "state":
        h.state(ev.value);
        break;
      case "chatEvent": {
        const verdict = this.cursor.accept(ev.value.chatId, ev.value.seq);
        if (verdict !== "duplicate") h.chatEvent(ev.value, verdict === "new-chat");
        break;
      }
      case "typing":
        h.typing(ev.value);
        break;
    }
  }
}
