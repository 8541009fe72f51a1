import { useMutation, useQuery } from "@connectrpc/connect-query";
import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { Dispatch, KeyboardEvent, MutableRefObject } from "react";
import type { ChatEvent, ChatNote, Whisper } from "../../../gen/proactivechat/v1/chat_pb";
import type { Colleague } from "../../../gen/proactivechat/v1/agent_service_pb";
import { AdminService } from "../../../gen/proactivechat/v1/admin_service_pb";
import type { CannedReply } from "../../../gen/proactivechat/v1/site_pb";
import { fillPlaceholders, matchingReplies } from "../lib/canned";
import { ParticipantRole } from "../../../gen/proactivechat/v1/chat_pb";
import { ChatService } from "../../../gen/proactivechat/v1/chat_service_pb";
import type { ConsoleApi } from "../Console";
import type { Clients } from "../hooks";
import { useClients, useNow } from "../hooks";
import { backoffDelay } from "../lib/backoff";
import { errorText, isRetryable } from "../lib/errors";
import { newIdempotencyKey } from "../lib/ids";
import type { StreamStatus } from "../lib/stream";
import { runStream } from "../lib/stream";
import { formatClock, formatDateTime, tsMs } from "../lib/time";
import { TypingNotifier } from "../lib/typing";
import { chatVisitorName, endReasonLabel, shortId } from "../labels";
import type { ChatTab, ChatsAction, ChatsView } from "../state/chats";
import { composerBlock } from "../state/actions";
import { isOtherTyping, timeline } from "../state/chats";
import type { PresenceEntry, PresenceView } from "../state/presence";
import { FormValues, PageLink } from "./common";
import { EndedChatRating } from "./Rating";

export interface ChatWatcherProps {
  chatId: string;
  me: string;
  clients: Clients;
  chatsRef: MutableRefObject<ChatsView>;
  dispatch: Dispatch<ChatsAction>;
  onStatus: (chatId: string, s: StreamStatus) => void;
}

/**
 * ChatWatcher follows one chat with WatchChat for as long as its tab is
 * open: GetChat first (for a tab restored from the agent snapshot), then the
 * events after the last one received, again after every reconnect, until
 * the chat has ended.
 */
export function ChatWatcher({ chatId, me, clients, chatsRef, dispatch, onStatus }: ChatWatcherProps) {
  useEffect(() => {
    const ctrl = new AbortController();
    const tab = chatsRef.current.tabs.find((t) => t.id === chatId);
    let seq = tab?.streamSeq ?? 0;
    let known = !!tab?.chat;
    let ended = false;
    // Internal notes have a stream of their own (WatchNotes), which visitors
    // may not open; it resumes after the last note received.
    let noteSeq = 0;
    void runStream({
      open: (signal) => clients.chat.watchNotes({ chatId, afterSeq: noteSeq }, { signal }),
      onMessage: (msg) => {
        if (msg.event.case !== "note") return;
        const note = msg.event.value;
        if (note.seq > noteSeq) noteSeq = note.seq;
        dispatch({ type: "notes", chatId, notes: [note] });
      },
      signal: ctrl.signal,
    });
    void runStream({
      open: async function* (signal) {
        if (!known) {
          const res = await clients.chat.getChat({ chatId }, { signal });
          if (res.chat) dispatch({ type: "loaded", chatId, chat: res.chat });
          known = true;
        }
        // Whispers sent while the console was away (WatchAgent brings the
        // new ones); a console that may not read them shows none.
        await clients.chat
          .listWhispers({ chatId }, { signal })
          .then((res) => dispatch({ type: "whispers", chatId, whispers: res.whispers }))
          .catch(() => {});
        yield* clients.chat.watchChat({ chatId, afterSeq: seq }, { signal });
      },
      onMessage: (msg) => {
        switch (msg.event.case) {
          case "chatEvent": {
            const ev = msg.event.value;
            if (ev.seq > seq) seq = ev.seq;
            if (ev.kind.case === "ended") ended = true;
            dispatch({ type: "event", chatId, event: ev, fromStream: true, me });
            break;
          }
          case "typing":
            dispatch({ type: "typing", chatId, typing: msg.event.value, me, now: Date.now() });
            break;
        }
      },
      onStatus: (s) => onStatus(chatId, s),
      isDone: () => ended,
      signal: ctrl.signal,
    });
    return () => ctrl.abort();
  }, [chatId, me, clients, chatsRef, dispatch, onStatus]);
  return null;
}

export interface ChatAreaProps {
  api: ConsoleApi;
  chats: ChatsView;
  dispatch: Dispatch<ChatsAction>;
  streams: Record<string, StreamStatus>;
  presence: PresenceView;
}

/** ChatArea shows the agent's chats as tabs, one panel at a time. */
export function ChatArea({ api, chats, dispatch, streams, presence }: ChatAreaProps) {
  const tabRefs = useRef(new Map<string, HTMLButtonElement>());
  const active = chats.tabs.find((t) => t.id === chats.activeId);
  const onKey = (e: KeyboardEvent, idx: number) => {
    const n = chats.tabs.length;
    let next = -1;
    if (e.key === "ArrowRight") next = (idx + 1) % n;
    else if (e.key === "ArrowLeft") next = (idx - 1 + n) % n;
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = n - 1;
    if (next < 0) return;
    e.preventDefault();
    const id = chats.tabs[next].id;
    dispatch({ type: "activate", chatId: id });
    tabRefs.current.get(id)?.focus();
  };
  return (
    <section className="panel chats" aria-labelledby="chats-title" data-testid="chats">
      <h2 id="chats-title" className="sr-only">
        Chats
      </h2>
      {chats.tabs.length === 0 ? (
        <div className="empty-chats muted" data-testid="no-chats">
          <p>No chats open.</p>
          <p className="small">Accept an alert, take a chat from the queue or start one with a visitor.</p>
        </div>
      ) : (
        <>
          <div role="tablist" aria-label="Your chats" className="tabs">
            {chats.tabs.map((t, i) => (
              <TabButton
                key={t.id}
                tab={t}
                selected={t.id === chats.activeId}
                onSelect={() => dispatch({ type: "activate", chatId: t.id })}
                onKeyDown={(e) => onKey(e, i)}
                refFn={(el) => {
                  if (el) tabRefs.current.set(t.id, el);
                  else tabRefs.current.delete(t.id);
                }}
              />
            ))}
          </div>
          {active && (
            <ChatPane
              key={active.id}
              api={api}
              tab={active}
              dispatch={dispatch}
              stream={streams[active.id]}
              visitor={active.chat?.visitor ? presence.visitors[active.chat.visitor.id] : undefined}
            />
          )}
        </>
      )}
    </section>
  );
}

function TabButton(props: {
  tab: ChatTab;
  selected: boolean;
  onSelect: () => void;
  onKeyDown: (e: KeyboardEvent) => void;
  refFn: (el: HTMLButtonElement | null) => void;
}) {
  const { tab, selected } = props;
  const now = useNow();
  const typing = isOtherTyping(tab, now);
  const visitor = tab.chat?.visitor;
  return (
    <button
      type="button"
      role="tab"
      id={`chat-tab-${tab.id}`}
      aria-selected={selected}
      aria-controls={`chat-panel-${tab.id}`}
      tabIndex={selected ? 0 : -1}
      className={`tab${tab.ended ? " ended" : ""}`}
      onClick={props.onSelect}
      onKeyDown={props.onKeyDown}
      ref={props.refFn}
      data-testid="chat-tab"
      data-chat-id={tab.id}
    >
      <span>{visitor ? chatVisitorName(visitor) : `Chat ${shortId(tab.id)}`}</span>
      {typing && (
        <span className="typing-dot" aria-label="typing">
          …
        </span>
      )}
      {tab.ended && <span className="tag muted-tag">ended</span>}
      {tab.unread > 0 && (
        <span className="badge" data-testid="unread-count" aria-label={`${tab.unread} unread`}>
          {tab.unread}
        </span>
      )}
    </button>
  );
}

interface ChatPaneProps {
  api: ConsoleApi;
  tab: ChatTab;
  dispatch: Dispatch<ChatsAction>;
  stream?: StreamStatus;
  /** The visitor's presence while they are on the site. */
  visitor?: PresenceEntry;
}

function ChatPane({ api, tab, dispatch, stream, visitor }: ChatPaneProps) {
  const me = api.agentId;
  const chatId = tab.id;
  const [text, setText] = useState("");
  const [leaveError, setLeaveError] = useState<string>();
  const inputRef = useRef<HTMLTextAreaElement>(null);

  // SendMessage is retried (with the same idempotency key, so never twice
  // in the chat) while the network or server is briefly unavailable.
  const send = useMutation(ChatService.method.sendMessage, {
    retry: (failures, err) => failures < 6 && isRetryable(err),
    retryDelay: (attempt) => backoffDelay(attempt + 1),
  });
  const setTyping = useMutation(ChatService.method.setTyping);
  const addNote = useMutation(ChatService.method.addNote);
  const [mode, setMode] = useState<"message" | "note">("message");
  const [noteError, setNoteError] = useState<string>();
  const [transferOpen, setTransferOpen] = useState(false);
  const leave = useMutation(ChatService.method.leaveChat, {
    onSuccess: () => dispatch({ type: "close", chatId }),
    onError: (err) => {
      if (tab.ended) dispatch({ type: "close", chatId });
      else setLeaveError(errorText(err));
    },
  });

  const notifier = useMemo(
    () => new TypingNotifier((typing) => setTyping.mutate({ chatId, senderId: me, typing }, { onError: () => {} })),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [chatId, me],
  );
  useEffect(() => () => notifier.dispose(), [notifier]);

  const deliver = (idempotencyKey: string, body: string) => {
    send
      .mutateAsync({ chatId, senderId: me, text: body, idempotencyKey })
      .then((res) => {
        if (res.event) dispatch({ type: "event", chatId, event: res.event, fromStream: false, me });
        dispatch({ type: "outboxRemove", chatId, idempotencyKey });
      })
      .catch((err) => dispatch({ type: "outboxFailed", chatId, idempotencyKey, error: errorText(err) }));
  };

  const blocked = composerBlock(tab);
  // The visitor may rate the chat once they have left it (RateChat).
  const visitorLeft = tab.events.some(
    (e) => e.kind.case === "participantLeft" && e.kind.value.participant?.role === ParticipantRole.VISITOR,
  );
  const submit = () => {
    const body = text.trim();
    if (!body || blocked) return;
    if (mode === "note") {
      setNoteError(undefined);
      addNote
        .mutateAsync({ chatId, authorId: me, text: body })
        .then((res) => {
          if (res.note) dispatch({ type: "notes", chatId, notes: [res.note] });
          setText("");
        })
        .catch((err) => setNoteError(errorText(err)));
      inputRef.current?.focus();
      return;
    }
    const key = newIdempotencyKey();
    dispatch({ type: "outboxAdd", chatId, idempotencyKey: key, text: body });
    setText("");
    notifier.stop();
    deliver(key, body);
    inputRef.current?.focus();
  };

  // Canned replies: typing "/" and a shortcut offers the site's replies;
  // Tab or Enter inserts the chosen one with its placeholders filled in.
  const canned = useQuery(AdminService.method.listCannedReplies, { siteId: tab.chat?.siteId ?? "" }, { enabled: !!tab.chat?.siteId });
  const matches = matchingReplies(text, canned.data?.cannedReplies ?? []);
  const [pick, setPick] = useState(0);
  const picked = matches[Math.min(pick, matches.length - 1)];
  const insert = (r: CannedReply) => {
    const c = tab.chat;
    const visitorName = c?.visitor?.displayName && c.visitor.displayName !== "Visitor" ? c.visitor.displayName : "";
    const filled = fillPlaceholders(r.text, {
      visitorName,
      agentName: c?.agent?.displayName ?? "",
      siteName: c ? api.siteName(c.siteId) : "",
    });
    setText(filled);
    setPick(0);
    if (mode === "message") notifier.input(filled);
    inputRef.current?.focus();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (picked && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
      e.preventDefault();
      const n = matches.length;
      setPick((p) => (Math.min(p, n - 1) + (e.key === "ArrowDown" ? 1 : n - 1)) % n);
      return;
    }
    if (picked && (e.key === "Tab" || (e.key === "Enter" && !e.shiftKey)) && !e.nativeEvent.isComposing) {
      e.preventDefault();
      insert(picked);
      return;
    }
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      submit();
    }
  };

  const chat = tab.chat;
  const request = chat?.chatRequestId ? api.request(chat.chatRequestId) : undefined;
  const site = chat ? api.site(chat.siteId) : undefined;
  const reconnecting = stream && (stream.state === "retrying" || (stream.state === "connecting" && stream.attempt > 0));

  return (
    <div
      role="tabpanel"
      id={`chat-panel-${chatId}`}
      aria-labelledby={`chat-tab-${chatId}`}
      className="chat-pane"
      data-testid="chat-panel"
      data-chat-id={chatId}
    >
      <div className="chat-head">
        <div>
          <strong>{chat?.visitor ? chatVisitorName(chat.visitor) : `Chat ${shortId(chatId)}`}</strong>
          {chat && <span className="muted"> · {api.siteName(chat.siteId)}</span>}
          {chat && <span className="muted small"> · started {formatClock(tsMs(chat.createTime))}</span>}
        </div>
        {!tab.ended && !tab.handedTo && chat && (
          <button type="button" onClick={() => setTransferOpen((o) => !o)} aria-expanded={transferOpen} data-testid="transfer-open">
            Transfer…
          </button>
        )}
        <button
          type="button"
          onClick={() => (tab.handedTo ? dispatch({ type: "close", chatId }) : leave.mutate({ chatId, participantId: me }))}
          disabled={leave.isPending}
          data-testid="leave-chat"
          className="danger"
        >
          {tab.ended || tab.handedTo ? "Close" : "Leave chat"}
        </button>
      </div>
      {transferOpen && chat && !tab.handedTo && !tab.ended && (
        <TransferForm
          api={api}
          chatId={chatId}
          siteId={chat.siteId}
          onDone={(note) => {
            if (note) dispatch({ type: "notes", chatId, notes: [note] });
            setTransferOpen(false);
          }}
        />
      )}
      {visitor?.presence.currentPage && (
        <p className="small visitor-page" data-testid="chat-visitor-page">
          <span className="muted">Now on </span>
          <PageLink page={visitor.presence.currentPage} />
        </p>
      )}
      {request && <FormValues values={request.formValues} fields={site?.proactiveChat?.formFields} />}
      {reconnecting && (
        <p className="notice small" role="status" data-testid="chat-reconnecting">
          Reconnecting to the chat…
        </p>
      )}
      {stream?.state === "failed" && (
        <p className="error-text" role="status">
          {stream.error}
        </p>
      )}
      <MessageList tab={tab} me={me} onRetry={(key, body) => {
        dispatch({ type: "outboxRetry", chatId, idempotencyKey: key });
        deliver(key, body);
      }} />
      <TypingIndicator tab={tab} />
      {leaveError && (
        <p className="error-text" role="alert">
          {leaveError}
        </p>
      )}
      {tab.ended ? (
        <>
          <p className="notice" data-testid="chat-ended">
            This chat has ended ({endReasonLabel(chat?.endReason ?? 0)}). Close it to move it to the transcripts.
          </p>
          <EndedChatRating chatId={chatId} />
        </>
      ) : (
        <>
            {visitorLeft && <EndedChatRating chatId={chatId} />}
            {blocked && (
              <p className="notice small composer-hint" id={`composer-hint-${chatId}`} data-testid="composer-hint">
                {blocked}
              </p>
            )}
        {!blocked && (
          <div className="composer-mode" role="group" aria-label="Write">
            <button type="button" aria-pressed={mode === "message"} onClick={() => setMode("message")} data-testid="mode-message">
              Message
            </button>
            <button type="button" aria-pressed={mode === "note"} onClick={() => setMode("note")} data-testid="mode-note">
              Note
            </button>
            {mode === "note" && <span className="muted small">Only agents see this</span>}
          </div>
        )}
        {noteError && (
          <p className="error-text" role="alert">
            {noteError}
          </p>
        )}
        <form
          className={`composer${mode === "note" ? " note-mode" : ""}`}
          onSubmit={(e) => {
            e.preventDefault();
            submit();
          }}
        >
          <label htmlFor={`message-${chatId}`} className="sr-only">
            {mode === "note" ? "Internal note (only agents see this)" : "Message"}
          </label>
          <textarea
            id={`message-${chatId}`}
            ref={inputRef}
            data-testid="message-input"
            rows={2}
            value={text}
            maxLength={4096}
            placeholder={
              blocked
                ? tab.handedTo
                  ? `Handed to ${tab.handedTo}`
                  : "The visitor has left"
                : mode === "note"
                  ? "Write a note only agents see — Enter adds it"
                  : "Write a message — Enter sends, Shift+Enter for a new line"
            }
            disabled={!!blocked}
            aria-disabled={blocked ? true : undefined}
            aria-describedby={blocked ? `composer-hint-${chatId}` : undefined}
            title={blocked}
            onChange={(e) => {
              setText(e.target.value);
              setPick(0);
              if (mode === "message") notifier.input(e.target.value);
            }}
            aria-controls={picked ? `canned-${chatId}` : undefined}
            aria-autocomplete="list"
            onKeyDown={onKeyDown}
            onBlur={() => notifier.stop()}
            autoFocus
          />
          {picked && (
            <ul className="canned-picker" role="listbox" id={`canned-${chatId}`} aria-label="Canned replies" data-testid="canned-picker">
              {matches.map((r) => (
                <li
                  key={r.id}
                  role="option"
                  aria-selected={r === picked}
                  className={r === picked ? "picked" : undefined}
                  onMouseDown={(e) => {
                    e.preventDefault();
                    insert(r);
                  }}
                  data-testid="canned-option"
                  data-shortcut={r.shortcut}
                >
                  <code>{r.shortcut}</code> {r.title}
                </li>
              ))}
            </ul>
          )}
          <button type="submit" className="primary" data-testid="send" disabled={!text.trim() || !!blocked}>
            {mode === "note" ? "Add note" : "Send"}
          </button>
        </form>
        </>
      )}
    </div>
  );
}

function TypingIndicator({ tab }: { tab: ChatTab }) {
  const now = useNow();
  const typing = isOtherTyping(tab, now);
  return (
    <div className="typing" aria-live="polite" data-testid="typing-indicator" data-typing={typing}>
      {typing ? "Visitor is typing…" : ""}
    </div>
  );
}

const MessageList = memo(function MessageList({
  tab,
  me,
  onRetry,
}: {
  tab: ChatTab;
  me: string;
  onRetry: (key: string, text: string) => void;
}) {
  const ref = useRef<HTMLOListElement>(null);
  const stick = useRef(true);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [tab.events.length, tab.outbox.length, tab.whispers.length, tab.notes.length]);
  // The log (new messages are announced) holds the list of messages, so the
  // list keeps its list semantics.
  return (
    <div role="log" aria-live="polite" aria-label="Messages">
      <ol
        className="messages"
        ref={ref}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        }}
      >
        <Timeline events={tab.events} whispers={tab.whispers} notes={tab.notes} me={me} />
        {tab.outbox.map((o) => (
          <li key={o.idempotencyKey} className="msg mine pending" data-testid="message-pending" data-status={o.status}>
            <p className="msg-text">{o.text}</p>
            <span className="msg-meta">
              {o.status === "sending" ? (
                "Sending…"
              ) : (
                <>
                  <span className="error-text">Not sent: {o.error}</span>{" "}
                  <button type="button" className="link" onClick={() => onRetry(o.idempotencyKey, o.text)}>
                    Retry
                  </button>
                </>
              )}
            </span>
          </li>
        ))}
      </ol>
    </div>
  );
});

/**
 * EventItem shows one chat event. Message text is rendered as a text node
 * only: whatever a visitor types is never interpreted as markup.
 */
export function EventItem({ ev, me, prev }: { ev: ChatEvent; me: string; prev?: ChatEvent }) {
  const ms = tsMs(ev.time);
  const time = formatClock(ms);
  const k = ev.kind;
  switch (k.case) {
    case "message": {
      const mine = k.value.sender?.id === me;
      const who = mine ? "You" : k.value.sender?.role === ParticipantRole.VISITOR ? k.value.sender.displayName || "Visitor" : k.value.sender?.displayName || "Agent";
      return (
        <li className={`msg ${mine ? "mine" : "theirs"}`} data-testid="message" data-seq={ev.seq} data-mine={mine}>
          <span className="msg-meta">
            {who} · <MessageTime ms={ms} />
          </span>
          <p className="msg-text">{k.value.text}</p>
        </li>
      );
    }
    case "started":
      return <SystemLine seq={ev.seq} text={`Chat started at ${time}`} />;
    case "participantLeft":
      return (
        <SystemLine
          seq={ev.seq}
          text={`${leftText(ev, me, prev)} · ${time}`}
        />
      );
    case "ended":
      return <SystemLine seq={ev.seq} text={`Chat ended: ${endReasonLabel(k.value.reason)} · ${time}`} />;
    case "transferred": {
      const from = k.value.from?.id === me ? "You" : k.value.from?.displayName || "An agent";
      const to = k.value.to?.id === me ? "you" : k.value.to?.displayName || "a colleague";
      return <SystemLine seq={ev.seq} text={`${from} handed the chat to ${to} · ${time}`} />;
    }
    case "inactivityWarning":
      return (
        <SystemLine
          seq={ev.seq}
          text={`No messages for a while: the chat ends at ${formatClock(tsMs(k.value.endTime))} unless someone writes.`}
        />
      );
    default:
      return null;
  }
}

/**
 * leftText says who left, from the reader's side: a participant taken out
 * of the chat with the other (the visitor closed before writing, or nobody
 * wrote for a while) did not leave; the chat closed for them.
 */
export function leftText(ev: ChatEvent, me: string, prev?: ChatEvent): string {
  const p = ev.kind.case === "participantLeft" ? ev.kind.value.participant : undefined;
  const who = p?.id === me ? "You" : p?.role === ParticipantRole.VISITOR ? "The visitor" : "The agent";
  const withOther =
    prev?.kind.case === "participantLeft" &&
    prev.kind.value.participant?.id !== p?.id &&
    tsMs(prev.time) === tsMs(ev.time);
  return withOther ? `The chat closed for ${who.toLowerCase()} too` : `${who} left the chat`;
}

/** MessageTime is when a message was stored on the server: local hh:mm, the full date and time on hover. */
function MessageTime({ ms }: { ms: number | undefined }) {
  if (ms === undefined) return null;
  return (
    <time dateTime={new Date(ms).toISOString()} title={formatDateTime(ms)} data-testid="message-time">
      {formatClock(ms)}
    </time>
  );
}

function SystemLine({ seq, text }: { seq: number; text: string }) {
  return (
    <li className="system" data-testid="chat-event" data-seq={seq}>
      {text}
    </li>
  );
}

/** Timeline shows a chat's events with the supervisors' whispers among them. */
export function Timeline({ events, whispers, notes, me }: { events: ChatEvent[]; whispers: Whisper[]; notes?: ChatNote[]; me: string }) {
  return (
    <>
      {timeline(events, whispers, notes).map((item) =>
        item.kind === "event" ? (
          <EventItem key={`e${item.ev.seq}`} ev={item.ev} me={me} prev={item.prev} />
        ) : item.kind === "whisper" ? (
          <WhisperItem key={`w${item.whisper.seq}`} whisper={item.whisper} me={me} />
        ) : (
          <NoteItem key={`n${item.note.seq}`} note={item.note} me={me} />
        ),
      )}
    </>
  );
}

/** WhisperItem is a supervisor's note to the agent: the visitor never sees it. */
export function WhisperItem({ whisper, me }: { whisper: Whisper; me: string }) {
  const ms = tsMs(whisper.time);
  const from = whisper.fromId === me ? "you" : whisper.fromName || whisper.fromId;
  return (
    <li className="msg whisper" data-testid="whisper" data-seq={whisper.seq}>
      <span className="msg-meta">
        Whisper from {from} · <MessageTime ms={ms} /> · <span className="muted">only agents see this</span>
      </span>
      <p className="msg-text">{whisper.text}</p>
    </li>
  );
}

/** NoteItem shows an internal note: for agents only, styled apart from messages. */
function NoteItem({ note, me }: { note: ChatNote; me: string }) {
  const who = note.author?.id === me ? "You" : note.author?.displayName || "An agent";
  return (
    <li className="msg note" data-testid="note" data-note-seq={note.seq}>
      <span className="msg-meta">
        Note · {who} · <MessageTime ms={tsMs(note.time)} /> · Only agents see this
      </span>
      <p className="msg-text">{note.text}</p>
    </li>
  );
}

/**
 * TransferForm hands the chat to a colleague who can take it now (available,
 * under capacity, serving the chat's site), with an optional note the
 * visitor does not see.
 */
function TransferForm({ api, chatId, siteId, onDone }: { api: ConsoleApi; chatId: string; siteId: string; onDone: (note?: ChatNote) => void }) {
  const clients = useClients();
  const [colleagues, setColleagues] = useState<Colleague[]>();
  const [to, setTo] = useState("");
  const [note, setNote] = useState("");
  const [error, setError] = useState<string>();
  const transfer = useMutation(ChatService.method.transferChat);
  useEffect(() => {
    const ctrl = new AbortController();
    clients.agent
      .listColleagues({ agentId: api.agentId, siteId }, { signal: ctrl.signal })
      .then((res) => {
        const free = res.colleagues.filter((c) => c.canTakeChat);
        setColleagues(free);
        setTo((cur) => cur || free[0]?.agentId || "");
      })
      .catch((err) => {
        if (!ctrl.signal.aborted) setError(errorText(err));
      });
    return () => ctrl.abort();
  }, [clients, api.agentId, siteId]);
  const submit = () => {
    if (!to) return;
    setError(undefined);
    transfer
      .mutateAsync({ chatId, fromAgentId: api.agentId, toAgentId: to, note: note.trim() })
      .then((res) => onDone(res.note))
      .catch((err) => setError(errorText(err)));
  };
  return (
    <form
      className="transfer-form"
      data-testid="transfer-form"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      {colleagues && colleagues.length === 0 ? (
        <p className="muted small">No colleague of this site is available with a free chat now.</p>
      ) : (
        <>
          <label>
            Transfer to{" "}
            <select value={to} onChange={(e) => setTo(e.target.value)} data-testid="transfer-to" disabled={!colleagues}>
              {(colleagues ?? []).map((c) => (
                <option key={c.agentId} value={c.agentId}>
                  {c.displayName || c.agentId} ({c.freeChats} free)
                </option>
              ))}
            </select>
          </label>
          <label>
            Note for them (the visitor does not see it){" "}
            <input value={note} onChange={(e) => setNote(e.target.value)} maxLength={4096} data-testid="transfer-note" />
          </label>
          <button type="submit" className="primary" disabled={!to || transfer.isPending} data-testid="transfer-submit">
            Transfer
          </button>
        </>
      )}
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
