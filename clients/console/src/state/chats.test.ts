import { create } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import type { ChatEvent } from "../../../gen/proactivechat/v1/chat_pb";
import {
  ChatEndReason,
  ChatEventSchema,
  ChatNoteSchema,
  ChatSchema,
  ChatState,
  ParticipantRole,
  TypingSchema,
  WhisperSchema,
} from "../../../gen/proactivechat/v1/chat_pb";
import type { ChatsAction, ChatsView } from "./chats";
import {
  TYPING_TTL_MS,
  chatsReducer,
  initialChatsView,
  insertEvent,
  isOtherTyping,
  mergeBySeq,
  timeline,
  totalUnread,
} from "./chats";

const ME = "agent_a";
const VISITOR = "visitor_v";
const msg = (seq: number, from: string, text = `m${seq}`, key = `k${seq}`): ChatEvent =>
  create(ChatEventSchema, {
    chatId: "c1",
    seq,
    kind: {
      case: "message",
      value: {
        sender: { id: from, role: from === ME ? ParticipantRole.AGENT : ParticipantRole.VISITOR },
        text,
        idempotencyKey: key,
      },
    },
  });
const started = create(ChatEventSchema, { chatId: "c1", seq: 1, kind: { case: "started", value: {} } });
const chat = (id: string, lastSeq = 1, state = ChatState.ACTIVE) =>
  create(ChatSchema, { id, siteId: "s", lastSeq, state, visitor: { id: VISITOR }, agent: { id: ME } });

const run = (state: ChatsView, ...actions: ChatsAction[]) => actions.reduce(chatsReducer, state);
const stream = (chatId: string, event: ChatEvent): ChatsAction => ({ type: "event", chatId, event, fromStream: true, me: ME });
const seqs = (s: ChatsView, id = "c1") => s.tabs.find((t) => t.id === id)!.events.map((e) => e.seq);
const tab = (s: ChatsView, id = "c1") => s.tabs.find((t) => t.id === id)!;

describe("insertEvent", () => {
  it("keeps seq order and drops duplicates", () => {
    let list: ChatEvent[] = [];
    for (const n of [1, 3, 2, 3, 5, 4, 1]) list = insertEvent(list, msg(n, VISITOR)) ?? list;
    expect(list.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(insertEvent(list, msg(4, VISITOR))).toBeUndefined();
  });
});

describe("chatsReducer", () => {
  it("dedupes events by seq across a resumed stream and SendMessage answers", () => {
    let s = run(initialChatsView, { type: "open", chatId: "c1", chat: chat("c1"), activate: true });
    s = run(s, stream("c1", started), stream("c1", msg(2, VISITOR)));
    // SendMessage's answer arrives before the stream has caught up.
    s = run(s, { type: "outboxAdd", chatId: "c1", idempotencyKey: "k4", text: "m4" });
    s = run(s, { type: "event", chatId: "c1", event: msg(4, ME), fromStream: false, me: ME });
    expect(seqs(s)).toEqual([1, 2, 4]);
    expect(tab(s).outbox).toEqual([]);
    // The stream resumes after the last seq *it* delivered, not after 4.
    expect(tab(s).streamSeq).toBe(2);
    s = run(s, stream("c1", msg(2, VISITOR)), stream("c1", msg(3, VISITOR)), stream("c1", msg(4, ME)));
    expect(seqs(s)).toEqual([1, 2, 3, 4]);
    expect(tab(s).streamSeq).toBe(4);
    expect(tab(s).chat?.lastSeq).toBe(4);
  });

  it("counts unread messages from the other side in tabs not shown, once each", () => {
    let s = run(
      initialChatsView,
      { type: "open", chatId: "c1", chat: chat("c1") },
      { type: "open", chatId: "c2", chat: chat("c2"), activate: true },
    );
    expect(s.activeId).toBe("c2");
    s = run(s, stream("c1", msg(2, VISITOR)), stream("c1", msg(3, ME)), stream("c1", msg(2, VISITOR)), stream("c1", msg(4, VISITOR)));
    expect(tab(s).unread).toBe(2);
    s = run(s, stream("c2", { ...msg(2, VISITOR), chatId: "c2" }));
    expect(tab(s, "c2").unread).toBe(0);
    expect(totalUnread(s)).toBe(2);
    s = run(s, { type: "activate", chatId: "c1" });
    expect(tab(s).unread).toBe(0);
    expect(totalUnread(s)).toBe(0);
  });

  it("does not count history as unread for a tab restored after a reload", () => {
    let s = run(initialChatsView, { type: "open", chatId: "c0", chat: chat("c0"), activate: true });
    s = run(s, { type: "sync", chatIds: ["c0", "c1"] });
    expect(s.tabs.map((t) => t.id)).toEqual(["c0", "c1"]);
    expect(s.activeId).toBe("c0");
    s = run(s, { type: "loaded", chatId: "c1", chat: chat("c1", 3) });
    s = run(s, stream("c1", started), stream("c1", msg(2, VISITOR)), stream("c1", msg(3, VISITOR)), stream("c1", msg(4, VISITOR)));
    expect(tab(s).unread).toBe(1);
  });

  it("does not reopen a chat the agent closed, unless asked to", () => {
    let s = run(initialChatsView, { type: "sync", chatIds: ["c1", "c2"] });
    expect(s.activeId).toBe("c1");
    s = run(s, { type: "close", chatId: "c1" });
    expect(s.tabs.map((t) => t.id)).toEqual(["c2"]);
    expect(s.activeId).toBe("c2");
    s = run(s, { type: "sync", chatIds: ["c1", "c2"] });
    expect(s.tabs.map((t) => t.id)).toEqual(["c2"]);
    s = run(s, { type: "open", chatId: "c1", activate: true });
    expect(s.tabs.map((t) => t.id)).toEqual(["c2", "c1"]);
    expect(s.activeId).toBe("c1");
    s = run(s, { type: "close", chatId: "c1" }, { type: "close", chatId: "c2" });
    expect(s.tabs).toEqual([]);
    expect(s.activeId).toBeUndefined();
  });

  it("shows the other side typing until it stops, writes or a timeout", () => {
    const typing = (who: string, on: boolean, now: number): ChatsAction => ({
      type: "typing",
      chatId: "c1",
      typing: create(TypingSchema, { chatId: "c1", participant: { id: who }, typing: on }),
      me: ME,
      now,
    });
    let s = run(initialChatsView, { type: "open", chatId: "c1", chat: chat("c1") });
    s = run(s, typing(ME, true, 0));
    expect(isOtherTyping(tab(s), 0)).toBe(false);
    s = run(s, typing(VISITOR, true, 1000));
    expect(isOtherTyping(tab(s), 1000 + TYPING_TTL_MS - 1)).toBe(true);
    expect(isOtherTyping(tab(s), 1000 + TYPING_TTL_MS)).toBe(false);
    s = run(s, typing(VISITOR, false, 2000));
    expect(isOtherTyping(tab(s), 2000)).toBe(false);
    s = run(s, typing(VISITOR, true, 3000), stream("c1", msg(2, VISITOR)));
    expect(isOtherTyping(tab(s), 3000)).toBe(false);
  });

  it("marks the chat ended on its last event", () => {
    let s = run(initialChatsView, { type: "open", chatId: "c1", chat: chat("c1") });
    s = run(s, stream("c1", create(ChatEventSchema, { chatId: "c1", seq: 2, kind: { case: "ended", value: { reason: ChatEndReason.VISITOR_DECLINED } } })));
    expect(tab(s).ended).toBe(true);
    expect(tab(s).chat?.state).toBe(ChatState.ENDED);
    expect(tab(s).chat?.endReason).toBe(ChatEndReason.VISITOR_DECLINED);
  });

  it("tracks messages being sent, failed and retried", () => {
    let s = run(initialChatsView, { type: "open", chatId: "c1", chat: chat("c1") });
    s = run(s, { type: "outboxAdd", chatId: "c1", idempotencyKey: "x", text: "hi" });
    s = run(s, { type: "outboxFailed", chatId: "c1", idempotencyKey: "x", error: "offline" });
    expect(tab(s).outbox).toEqual([{ idempotencyKey: "x", text: "hi", status: "failed", error: "offline" }]);
    s = run(s, { type: "outboxRetry", chatId: "c1", idempotencyKey: "x" });
    expect(tab(s).outbox[0].status).toBe("sending");
    // The stream shows the message (same key) before SendMessage answers.
    s = run(s, stream("c1", msg(2, ME, "hi", "x")));
    expect(tab(s).outbox).toEqual([]);
  });
});

describe("whispers", () => {
  const at = (s: number) => create(TimestampSchema, { seconds: BigInt(s) });
  const whisper = (seq: number, time: number) =>
    create(WhisperSchema, { chatId: "c1", seq, time: at(time), fromId: "agent_sam", fromName: "Sam", text: `w${seq}` });
  const ev = (seq: number, time: number) => ({ ...msg(seq, VISITOR), time: at(time) });

  it("keeps a tab's whispers by seq, without duplicates, from the stream and ListWhispers alike", () => {
    let s = chatsReducer(initialChatsView, { type: "open", chatId: "c1" });
    s = chatsReducer(s, { type: "whispers", chatId: "c1", whispers: [whisper(2, 20)] });
    s = chatsReducer(s, { type: "whispers", chatId: "c1", whispers: [whisper(1, 10), whisper(2, 20)] });
    expect(s.tabs[0].whispers.map((w) => w.seq)).toEqual([1, 2]);
    const same = chatsReducer(s, { type: "whispers", chatId: "c1", whispers: [whisper(1, 10)] });
    expect(same).toBe(s);
    // A whisper for a chat with no tab changes nothing.
    expect(chatsReducer(s, { type: "whispers", chatId: "c2", whispers: [whisper(1, 10)] })).toBe(s);
  });

  it("puts whispers among the events by time", () => {
    const items = timeline([ev(1, 10), ev(2, 30)], [whisper(1, 20), whisper(2, 40)]);
    expect(items.map((i) => (i.kind === "event" ? `e${i.ev.seq}` : i.kind === "whisper" ? `w${i.whisper.seq}` : "n"))).toEqual(["e1", "w1", "e2", "w2"]);
    expect(mergeBySeq([whisper(1, 10)], [])).toEqual([whisper(1, 10)]);
  });
});

describe("transfers and notes", () => {
  const transferred = (seq: number, from: string, to: string, toName: string) =>
    create(ChatEventSchema, {
      chatId: "c1",
      seq,
      kind: {
        case: "transferred",
        value: { from: { id: from, role: ParticipantRole.AGENT }, to: { id: to, role: ParticipantRole.AGENT, displayName: toName } },
      },
    });
  const note = (seq: number, text: string) => create(ChatNoteSchema, { chatId: "c1", seq, text, author: { id: ME } });

  it("closes the message box of the agent who handed the chat over, and names who took it", () => {
    const s = run(initialChatsView, { type: "open", chatId: "c1", chat: chat("c1") }, stream("c1", started), stream("c1", transferred(2, ME, "agent_b", "Sam")));
    expect(tab(s).handedTo).toBe("Sam");
    expect(tab(s).chat!.agent!.id).toBe("agent_b");
    expect(tab(s).chat!.lastSeq).toBe(2);
  });

  it("keeps the message box of the agent who took the chat over", () => {
    const s = run(initialChatsView, { type: "open", chatId: "c1", chat: chat("c1") }, stream("c1", transferred(2, "agent_x", ME, "Me")));
    expect(tab(s).handedTo).toBeUndefined();
  });

  it("merges notes by their own seq, each once, in order", () => {
    const s = run(
      initialChatsView,
      { type: "open", chatId: "c1" },
      { type: "notes", chatId: "c1", notes: [note(2, "b")] },
      { type: "notes", chatId: "c1", notes: [note(1, "a"), note(2, "b")] },
    );
    expect(tab(s).notes.map((n) => n.text)).toEqual(["a", "b"]);
    // The chat's events are not touched: notes have a sequence of their own.
    expect(seqs(s)).toEqual([]);
  });
});
