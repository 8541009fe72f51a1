import { describe, expect, it, vi } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ChatEventSchema, type ChatEvent } from "../gen/proactivechat/v1/chat_pb";
import { EngagementState } from "../gen/proactivechat/v1/visitor_pb";
import { VisitorStateSchema, WatchVisitorResponseSchema, type WatchVisitorResponse } from "../gen/proactivechat/v1/visitor_service_pb";
import { backoff, ChatCursor, VisitorStream, type Resume, type StreamHandlers } from "./stream";

const state = (): WatchVisitorResponse =>
  create(WatchVisitorResponseSchema, {
    event: { case: "state", value: create(VisitorStateSchema, { engagement: EngagementState.CHATTING }) },
  });
const ev = (chatId: string, seq: number): WatchVisitorResponse =>
  create(WatchVisitorResponseSchema, {
    event: {
      case: "chatEvent",
      value: create(ChatEventSchema, { chatId, seq, kind: { case: "message", value: { text: `m${seq}` } } }),
    },
  });

describe("ChatCursor", () => {
  it("keeps the last sequence number and drops what it has seen", () => {
    const c = new ChatCursor();
    expect(c.resume()).toEqual({ resumeChatId: "", resumeAfterSeq: 0 });
    expect(c.accept("chat_a", 1)).toBe("new-chat");
    expect(c.accept("chat_a", 2)).toBe("next");
    expect(c.accept("chat_a", 2)).toBe("duplicate");
    expect(c.accept("chat_a", 1)).toBe("duplicate");
    expect(c.resume()).toEqual({ resumeChatId: "chat_a", resumeAfterSeq: 2 });
    expect(c.accept("chat_a", 3)).toBe("next");
    // Another chat starts over.
    expect(c.accept("chat_b", 1)).toBe("new-chat");
    expect(c.resume()).toEqual({ resumeChatId: "chat_b", resumeAfterSeq: 1 });
    c.reset();
    expect(c.resume()).toEqual({ resumeChatId: "", resumeAfterSeq: 0 });
  });
});

describe("backoff", () => {
  it("doubles from 0.5 s to a 30 s cap, with half of it random", () => {
    const low = [0, 1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => backoff(n, () => 0));
    const high = [0, 1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => backoff(n, () => 1));
    expect(low).toEqual([250, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000, 15000]);
    expect(high).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
    for (let n = 0; n < 12; n++) {
      const d = backoff(n);
      expect(d).toBeGreaterThanOrEqual(low[Math.min(n, 9)]!);
      expect(d).toBeLessThanOrEqual(high[Math.min(n, 9)]!);
    }
  });
});

// A fake server: each open() plays the next script, then fails the way the
// script says (or waits to be aborted).
function fakeServer(scripts: { send: WatchVisitorResponse[]; fail?: ConnectError }[]) {
  const opened: Resume[] = [];
  let stream: VisitorStream;
  const open = (resume: Resume, signal: AbortSignal): AsyncIterable<WatchVisitorResponse> => {
    opened.push({ ...resume });
    const script = scripts.shift();
    return (async function* () {
      if (!script) {
        stream.stop();
        throw new ConnectError("stopped", Code.Canceled);
      }
      for (const m of script.send) yield m;
      if (script.fail) throw script.fail;
      await new Promise((_, reject) => signal.addEventListener("abort", () => reject(new ConnectError("idle", Code.Canceled))));
    })();
  };
  const seen: string[] = [];
  const handlers: StreamHandlers = {
    state: () => seen.push("state"),
    chatEvent: (e: ChatEvent, isNew) => seen.push(`${e.chatId}#${e.seq}${isNew ? " new" : ""}`),
    typing: () => seen.push("typing"),
    connection: (up) => seen.push(up ? "up" : "down"),
    lost: vi.fn(async () => {}),
  };
  const sleeps: number[] = [];
  stream = new VisitorStream({
    open,
    handlers,
    idleMs: 30,
    random: () => 0,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { stream, opened, seen, sleeps, handlers };
}

describe("VisitorStream", () => {
  it("resumes after the last event and shows each event once", async () => {
    const down = new ConnectError("server going away", Code.Unavailable);
    const s = fakeServer([
      { send: [state(), ev("chat_a", 1), ev("chat_a", 2)], fail: down },
      // The server resends 2 (it should not, but a proxy might): dropped.
      { send: [state(), ev("chat_a", 2), ev("chat_a", 3)], fail: down },
      { send: [], fail: down },
      { send: [state(), ev("chat_a", 4)], fail: down },
    ]);
    await s.stream.run();
    expect(s.opened).toEqual([
      { resumeChatId: "", resumeAfterSeq: 0 },
      { resumeChatId: "chat_a", resumeAfterSeq: 2 },
      { resumeChatId: "chat_a", resumeAfterSeq: 3 },
      { resumeChatId: "chat_a", resumeAfterSeq: 3 },
      { resumeChatId: "chat_a", resumeAfterSeq: 4 },
    ]);
    expect(s.seen).toEqual([
      "state", "chat_a#1 new", "chat_a#2", "down",
      "up", "state", "chat_a#3", "down",
      "up", "state", "chat_a#4", "down",
    ]);
    // Quick streams do not reset the backoff: it grows while failing.
    expect(s.sleeps).toEqual([250, 500, 1000, 2000]);
  });

  it("starts the backoff over after a stream that lived long enough", async () => {
    const down = new ConnectError("down", Code.Unavailable);
    const s = fakeServer([{ send: [], fail: down }, { send: [], fail: down }, { send: [state()], fail: down }, { send: [], fail: down }]);
    // Times the stream reads: opened, failed; the third stream lives 28 s.
    const times = [0, 1000, 1000, 2000, 2000, 30_000, 30_000, 31_000, 31_000, 31_000];
    (s.stream as unknown as { opts: { now(): number } }).opts.now = () => times.shift() ?? 31_000;
    await s.stream.run();
    expect(s.sleeps).toEqual([250, 500, 250, 500]);
  });

  it("reopens a stream that went quiet", async () => {
    const s = fakeServer([{ send: [state()] }, { send: [state()], fail: new ConnectError("x", Code.Unavailable) }]);
    await s.stream.run();
    expect(s.opened.length).toBe(3);
    expect(s.seen.slice(0, 3)).toEqual(["state", "down", "up"]);
  });

  it("starts a new session when the visitor is unknown or its token refused, and starts over when the resume point is refused", async () => {
    const s = fakeServer([
      { send: [ev("chat_a", 1), ev("chat_a", 2)], fail: new ConnectError("no such visitor", Code.NotFound) },
      { send: [ev("chat_b", 1)], fail: new ConnectError("resume_after_seq is 9", Code.InvalidArgument) },
      { send: [ev("chat_b", 1)], fail: new ConnectError("the token is unknown, expired or revoked", Code.Unauthenticated) },
      { send: [ev("chat_b", 1)], fail: new ConnectError("x", Code.Unavailable) },
    ]);
    await s.stream.run();
    expect(s.handlers.lost).toHaveBeenCalledTimes(2);
    expect(s.opened.slice(0, 4)).toEqual([
      { resumeChatId: "", resumeAfterSeq: 0 },
      { resumeChatId: "", resumeAfterSeq: 0 },
      { resumeChatId: "", resumeAfterSeq: 0 },
      { resumeChatId: "", resumeAfterSeq: 0 },
    ]);
    // After a reset the chat is drawn again from its start.
    expect(s.seen.filter((x) => x.startsWith("chat_b"))).toEqual(["chat_b#1 new", "chat_b#1 new", "chat_b#1 new"]);
  });
});
