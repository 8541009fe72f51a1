import type { Chat, ChatEvent, ChatNote, Typing, Whisper } from "../../../gen/proactivechat/v1/chat_pb";
import { ChatState } from "../../../gen/proactivechat/v1/chat_pb";
import { tsMs } from "../lib/time";

/** OutgoingMessage is a message the agent sent that the chat has not shown yet. */
export interface OutgoingMessage {
  idempotencyKey: string;
  text: string;
  status: "sending" | "failed";
  error?: string;
}

/** ChatTab is one chat the agent has open. */
export interface ChatTab {
  id: string;
  /** From StartChat/AcceptChatRequest or GetChat; kept current by events. */
  chat?: Chat;
  /** The chat's events by seq, without duplicates. */
  events: ChatEvent[];
  /** Highest seq received from WatchChat: a reconnect resumes after it. */
  streamSeq: number;
  /** Events up to this seq were there before the tab opened: never unread. */
  historySeq: number;
  unread: number;
  /** Local time until which the other side counts as typing (0: not typing). */
  typingUntil: number;
  outbox: OutgoingMessage[];
  ended: boolean;
  /** Supervisors' whispers to the agent, by seq: never seen by the visitor. */
  whispers: Whisper[];
  /** Internal notes (agents only), by their own seq, without duplicates. */
  notes: ChatNote[];
  /** Set once this agent handed the chat to a colleague: the name of who took it over. */
  handedTo?: string;
}

export interface ChatsView {
  tabs: ChatTab[];
  activeId?: string;
  /** Chats the agent closed here: not reopened by a later agent snapshot. */
  closed: string[];
}

export const initialChatsView: ChatsView = { tabs: [], closed: [] };

/** How long a "typing" lasts without a refresh (the sender repeats it every 3 s). */
export const TYPING_TTL_MS = 8000;

export type ChatsAction =
  /** Open (or focus) a chat: from AcceptChatRequest, StartChat or a click. */
  | { type: "open"; chatId: string; chat?: Chat; activate?: boolean }
  /** The agent's active_chat_ids from WatchAgent: open tabs for chats not seen yet. */
  | { type: "sync"; chatIds: string[] }
  | { type: "loaded"; chatId: string; chat: Chat }
  | { type: "event"; chatId: string; event: ChatEvent; fromStream: boolean; me: string }
  | { type: "typing"; chatId: string; typing: Typing; me: string; now: number }
  | { type: "activate"; chatId: string }
  | { type: "close"; chatId: string }
  | { type: "outboxAdd"; chatId: string; idempotencyKey: string; text: string }
  | { type: "outboxFailed"; chatId: string; idempotencyKey: string; error: string }
  | { type: "outboxRetry"; chatId: string; idempotencyKey: string }
  | { type: "outboxRemove"; chatId: string; idempotencyKey: string }
  /** Whispers from WatchAgent (one) or ListWhispers (all so far). */
  | { type: "whispers"; chatId: string; whispers: Whisper[] }
  /** Internal notes from ListNotes, AddNote or TransferChat. */
  | { type: "notes"; chatId: string; notes: ChatNote[] };

function newTab(id: string, chat?: Chat): ChatTab {
  return {
    id,
    chat,
    events: [],
    streamSeq: 0,
    historySeq: chat?.lastSeq ?? 0,
    unread: 0,
    typingUntil: 0,
    outbox: [],
    ended: chat?.state === ChatState.ENDED,
    whispers: [],
    notes: [],
  };
}

function mapTab(state: ChatsView, id: string, fn: (t: ChatTab) => ChatTab): ChatsView {
  let changed = false;
  const tabs = state.tabs.map((t) => {
    if (t.id !== id) return t;
    const next = fn(t);
    if (next !== t) changed = true;
    return next;
  });
  return changed ? { ...state, tabs } : state;
}

/**
 * insertEvent adds an event in seq order unless an event with its seq is
 * there already. Events can arrive twice (a stream resumed after a reconnect,
 * SendMessage's answer and the stream) and out of order (SendMessage's answer
 * before the stream caught up), so order and identity come from seq alone.
 */
export function insertEvent(events: ChatEvent[], ev: ChatEvent): ChatEvent[] | undefined {
  let i = events.length;
  while (i > 0 && events[i - 1].seq > ev.seq) i--;
  if (i > 0 && events[i - 1].seq === ev.seq) return undefined;
  return [...events.slice(0, i), ev, ...events.slice(i)];
}

function applyEvent(tab: ChatTab, ev: ChatEvent, fromStream: boolean, me: string, active: boolean): ChatTab {
  const events = insertEvent(tab.events, ev);
  const streamSeq = fromStream ? Math.max(tab.streamSeq, ev.seq) : tab.streamSeq;
  if (!events) return streamSeq === tab.streamSeq ? tab : { ...tab, streamSeq };
  let { unread, typingUntil, outbox, chat, ended } = tab;
  const k = ev.kind;
  if (k.case === "message") {
    const fromMe = k.value.sender?.id === me;
    if (fromMe) {
      outbox = outbox.filter((o) => o.idempotencyKey !== k.value.idempotencyKey);
    } else {
      typingUntil = 0;
      if (!active && ev.seq > tab.historySeq) unread++;
    }
  } else if (k.case === "ended") {
    ended = true;
    typingUntil = 0;
    if (chat) chat = { ...chat, state: ChatState.ENDED, endReason: k.value.reason };
  } else if (k.case === "participantLeft" && k.value.participant?.id !== me) {
    typingUntil = 0;
  }
  let handedTo = tab.handedTo;
  if (k.case === "transferred") {
    typingUntil = 0;
    if (chat && k.value.to) chat = { ...chat, agent: k.value.to };
    handedTo = k.value.from?.id === me ? k.value.to?.displayName || "a colleague" : undefined;
  }
  if (chat && ev.seq > chat.lastSeq) chat = { ...chat, lastSeq: ev.seq };
  return { ...tab, events, streamSeq, unread, typingUntil, outbox, chat, ended, handedTo };
}

export function chatsReducer(state: ChatsView, action: ChatsAction): ChatsView {
  switch (action.type) {
    case "open": {
      const exists = state.tabs.some((t) => t.id === action.chatId);
      let next: ChatsView = exists
        ? action.chat
          ? mapTab(state, action.chatId, (t) => (t.chat ? t : { ...t, chat: action.chat, historySeq: Math.max(t.historySeq, action.chat!.lastSeq) }))
          : state
        : {
            ...state,
            tabs: [...state.tabs, newTab(action.chatId, action.chat)],
            closed: state.closed.filter((id) => id !== action.chatId),
          };
      if (action.activate || !next.activeId) next = chatsReducer(next, { type: "activate", chatId: action.chatId });
      return next;
    }
    case "sync": {
      const fresh = action.chatIds.filter((id) => !state.closed.includes(id) && !state.tabs.some((t) => t.id === id));
      if (fresh.length === 0) return state;
      return {
        ...state,
        tabs: [...state.tabs, ...fresh.map((id) => newTab(id))],
        activeId: state.activeId ?? fresh[0],
      };
    }
    case "loaded":
      return mapTab(state, action.chatId, (t) => ({
        ...t,
        chat: t.chat && t.chat.lastSeq > action.chat.lastSeq ? { ...action.chat, lastSeq: t.chat.lastSeq } : action.chat,
        // Only the first look at the chat decides what was there before.
        historySeq: t.chat ? t.historySeq : Math.max(t.historySeq, action.chat.lastSeq),
        ended: t.ended || action.chat.state === ChatState.ENDED,
      }));
    case "event":
      return mapTab(state, action.chatId, (t) =>
        applyEvent(t, action.event, action.fromStream, action.me, state.activeId === action.chatId),
      );
    case "typing": {
      if (action.typing.participant?.id === action.me) return state;
      const until = action.typing.typing ? action.now + TYPING_TTL_MS : 0;
      return mapTab(state, action.chatId, (t) => (t.ended ? t : { ...t, typingUntil: until }));
    }
    case "activate": {
      if (!state.tabs.some((t) => t.id === action.chatId)) return state;
      const s = mapTab(state, action.chatId, (t) => (t.unread === 0 ? t : { ...t, unread: 0 }));
      return s.activeId === action.chatId ? s : { ...s, activeId: action.chatId };
    }
    case "close": {
      const idx = state.tabs.findIndex((t) => t.id === action.chatId);
      if (idx < 0) return state;
      const tabs = state.tabs.filter((t) => t.id !== action.chatId);
      let activeId = state.activeId;
      if (activeId === action.chatId) activeId = (tabs[idx] ?? tabs[idx - 1])?.id;
      const closed = [...state.closed.filter((id) => id !== action.chatId), action.chatId];
      const s: ChatsView = { tabs, activeId, closed };
      return activeId ? chatsReducer(s, { type: "activate", chatId: activeId }) : s;
    }
    case "outboxAdd":
      return mapTab(state, action.chatId, (t) => ({
        ...t,
        outbox: [...t.outbox, { idempotencyKey: action.idempotencyKey, text: action.text, status: "sending" }],
      }));
    case "outboxFailed":
      return mapTab(state, action.chatId, (t) => ({
        ...t,
        outbox: t.outbox.map((o) =>
          o.idempotencyKey === action.idempotencyKey ? { ...o, status: "failed", error: action.error } : o,
        ),
      }));
    case "outboxRetry":
      return mapTab(state, action.chatId, (t) => ({
        ...t,
        outbox: t.outbox.map((o) =>
          o.idempotencyKey === action.idempotencyKey ? { ...o, status: "sending", error: undefined } : o,
        ),
      }));
    case "whispers":
      return mapTab(state, action.chatId, (t) => {
        const whispers = mergeBySeq(t.whispers, action.whispers);
        return whispers === t.whispers ? t : { ...t, whispers };
      });
    case "notes":
      return mapTab(state, action.chatId, (t) => {
        const notes = mergeBySeq(t.notes, action.notes);
        return notes === t.notes ? t : { ...t, notes };
      });
    case "outboxRemove":
      return mapTab(state, action.chatId, (t) =>
        t.outbox.some((o) => o.idempotencyKey === action.idempotencyKey)
          ? { ...t, outbox: t.outbox.filter((o) => o.idempotencyKey !== action.idempotencyKey) }
          : t,
      );
  }
}

/**
 * mergeBySeq adds items (whispers, notes: each numbered in its own sequence)
 * to a list in seq order, each seq once; the same list when nothing is new.
 */
export function mergeBySeq<T extends { seq: number }>(list: T[], add: T[]): T[] {
  const fresh = add.filter((x) => !list.some((y) => y.seq === x.seq));
  if (fresh.length === 0) return list;
  const seen = new Set<number>();
  return [...list, ...fresh].filter((x) => !seen.has(x.seq) && seen.add(x.seq)).sort((a, b) => a.seq - b.seq);
}

/** totalUnread is the sum of the tabs' unread counts (shown in the page title). */
export function totalUnread(state: ChatsView): number {
  return state.tabs.reduce((n, t) => n + t.unread, 0);
}

/** otherParticipantTyping says whether to show "Visitor is typing…" now. */
export function isOtherTyping(tab: ChatTab, now: number): boolean {
  return tab.typingUntil > now;
}

/** TimelineItem is one line of a chat as an agent or supervisor sees it. */
export type TimelineItem =
  | { kind: "event"; ev: ChatEvent; prev?: ChatEvent }
  | { kind: "whisper"; whisper: Whisper }
  | { kind: "note"; note: ChatNote };

/**
 * timeline puts the supervisors' whispers and the agents' internal notes
 * among the chat's events by time: each after the events that happened no
 * later than it. Neither is a chat event (the visitor sees neither), so
 * each has its own numbering.
 */
export function timeline(events: ChatEvent[], whispers: Whisper[], notes: ChatNote[] = []): TimelineItem[] {
  const asides: { at: number; item: TimelineItem }[] = [
    ...whispers.map((whisper) => ({ at: tsMs(whisper.time) ?? 0, item: { kind: "whisper", whisper } as TimelineItem })),
    ...notes.map((note) => ({ at: tsMs(note.time) ?? 0, item: { kind: "note", note } as TimelineItem })),
  ].sort((x, y) => x.at - y.at);
  const out: TimelineItem[] = [];
  let a = 0;
  events.forEach((ev, i) => {
    const at = tsMs(ev.time) ?? 0;
    while (a < asides.length && asides[a].at < at) out.push(asides[a++].item);
    out.push({ kind: "event", ev, prev: events[i - 1] });
  });
  while (a < asides.length) out.push(asides[a++].item);
  return out;
}
