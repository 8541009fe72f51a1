import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import type { FormEvent } from "react";
import { AdminService } from "../../../gen/proactivechat/v1/admin_service_pb";
import { AgentService } from "../../../gen/proactivechat/v1/agent_service_pb";
import type { Chat, ChatEvent, Whisper } from "../../../gen/proactivechat/v1/chat_pb";
import { ChatService } from "../../../gen/proactivechat/v1/chat_service_pb";
import type { ConsoleApi } from "../Console";
import type { Clients } from "../hooks";
import { useNow } from "../hooks";
import { errorText } from "../lib/errors";
import type { StreamStatus } from "../lib/stream";
import { runStream } from "../lib/stream";
import { formatClock, formatDuration, serverNow, tsMs } from "../lib/time";
import { chatVisitorName, requestStateLabel, visitorName } from "../labels";
import { insertEvent, mergeBySeq } from "../state/chats";
import { Timeline } from "./Chats";

/** How often the live chats and queues of supervised sites are read again. */
const REFRESH_MS = 2000;

export interface SupervisePageProps {
  api: ConsoleApi;
  /** The sites the agent supervises (Agent.supervised_site_ids). */
  siteIds: string[];
  clients: Clients;
}

/**
 * SupervisePage is a supervisor's view of the sites it supervises: their
 * live chats and queues, and one chat at a time followed as it happens,
 * read-only, with a box to whisper to its agent. The supervisor does not
 * join the chat: neither the visitor nor the agent sees it there.
 */
export function SupervisePage({ api, siteIds, clients }: SupervisePageProps) {
  const [watching, setWatching] = useState<Chat>();
  if (siteIds.length === 0) {
    return (
      <p className="muted" data-testid="supervise-none">
        You supervise no site.
      </p>
    );
  }
  return (
    <div className="supervise" data-testid="supervise">
      {siteIds.map((id) => (
        <SiteSupervision key={id} api={api} siteId={id} watching={watching?.id} onWatch={setWatching} />
      ))}
      {watching && (
        <LiveChatViewer
          key={watching.id}
          api={api}
          chat={watching}
          clients={clients}
          onClose={() => setWatching(undefined)}
        />
      )}
    </div>
  );
}

function SiteSupervision({
  api,
  siteId,
  watching,
  onWatch,
}: {
  api: ConsoleApi;
  siteId: string;
  watching?: string;
  onWatch: (c: Chat) => void;
}) {
  const now = useNow();
  const live = useQuery(AgentService.method.listLiveChats, { siteId }, { refetchInterval: REFRESH_MS });
  const queue = useQuery(AdminService.method.listQueue, { siteId }, { refetchInterval: REFRESH_MS });
  const chats = live.data?.chats ?? [];
  const waiting = queue.data?.chatRequests ?? [];
  return (
    <section className="panel" aria-labelledby={`supervise-${siteId}`} data-testid="supervised-site" data-site-id={siteId}>
      <h2 id={`supervise-${siteId}`}>{api.siteName(siteId)}</h2>
      <h3>
        Live chats <span className="count">{chats.length}</span>
      </h3>
      {live.error ? (
        <p className="error-text" role="status">
          {errorText(live.error)}
        </p>
      ) : !live.data ? (
        <p className="muted">Loading…</p>
      ) : chats.length === 0 ? (
        <p className="muted" data-testid="live-chats-empty">
          No chats right now.
        </p>
      ) : (
        <table data-testid="live-chats">
          <thead>
            <tr>
              <th scope="col">Visitor</th>
              <th scope="col">Agent</th>
              <th scope="col">Duration</th>
              <th scope="col">Last message</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {chats.map((c) => (
              <tr key={c.id} data-testid="live-chat" data-chat-id={c.id}>
                <td>{c.visitor ? chatVisitorName(c.visitor) : ""}</td>
                <td>{c.agent?.displayName || c.agent?.id}</td>
                <td>{formatDuration(serverNow(now) - (tsMs(c.createTime) ?? 0))}</td>
                <td>{formatClock(tsMs(c.lastActivityTime))}</td>
                <td>
                  <button
                    type="button"
                    onClick={() => onWatch(c)}
                    aria-pressed={watching === c.id}
                    data-testid="watch-chat"
                  >
                    {watching === c.id ? "Watching" : "Watch"}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>
        Queue <span className="count">{waiting.length}</span>
      </h3>
      {waiting.length === 0 ? (
        <p className="muted" data-testid="supervise-queue-empty">
          Nobody is waiting.
        </p>
      ) : (
        <ol className="rows" data-testid="supervise-queue">
          {waiting.map((r) => (
            <li key={r.id} className="row" data-testid="supervise-queue-row">
              <strong>{visitorName(r.visitorId, r.visitorIdentity)}</strong>{" "}
              <span className="tag">{requestStateLabel(r.state)}</span>{" "}
              <span className="muted small">waiting {formatDuration(serverNow(now) - (tsMs(r.enqueueTime) ?? 0))}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

/** LiveChatViewer follows one chat read-only with WatchChat, and whispers to its agent. */
function LiveChatViewer({ api, chat, clients, onClose }: { api: ConsoleApi; chat: Chat; clients: Clients; onClose: () => void }) {
  const chatId = chat.id;
  const [events, setEvents] = useState<ChatEvent[]>([]);
  const [whispers, setWhispers] = useState<Whisper[]>([]);
  const [stream, setStream] = useState<StreamStatus>({ state: "connecting", attempt: 0 });
  const [text, setText] = useState("");
  const listRef = useRef<HTMLOListElement>(null);

  useEffect(() => {
    const ctrl = new AbortController();
    let seq = 0;
    let ended = false;
    void clients.chat
      .listWhispers({ chatId }, { signal: ctrl.signal })
      .then((res) => setWhispers((w) => mergeBySeq(w, res.whispers)))
      .catch(() => {});
    void runStream({
      open: (signal) => clients.chat.watchChat({ chatId, afterSeq: seq }, { signal }),
      onMessage: (msg) => {
        if (msg.event.case !== "chatEvent") return;
        const ev = msg.event.value;
        if (ev.seq > seq) seq = ev.seq;
        if (ev.kind.case === "ended") ended = true;
        setEvents((list) => insertEvent(list, ev) ?? list);
      },
      onStatus: setStream,
      isDone: () => ended,
      signal: ctrl.signal,
    });
    return () => ctrl.abort();
  }, [chatId, clients]);

  useLayoutEffect(() => {
    const el = listRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [events.length, whispers.length]);

  const whisper = useMutation(ChatService.method.whisper, {
    onSuccess: (res) => {
      if (res.whisper) setWhispers((w) => mergeBySeq(w, [res.whisper!]));
      setText("");
    },
  });
  const ended = events.some((e) => e.kind.case === "ended");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const body = text.trim();
    if (body && !whisper.isPending) whisper.mutate({ chatId, supervisorId: api.agentId, text: body });
  };
  const agentName = chat.agent?.displayName || "the agent";
  return (
    <section className="panel viewer" aria-labelledby="viewer-title" data-testid="chat-viewer" data-chat-id={chatId}>
      <div className="chat-head">
        <h2 id="viewer-title">
          {chat.visitor ? chatVisitorName(chat.visitor) : chatId} <span className="muted">with {agentName}</span>
        </h2>
        <button type="button" className="ghost" onClick={onClose} data-testid="close-viewer">
          Close
        </button>
      </div>
      <p className="muted small">Read-only: the visitor and the agent do not see you here.</p>
      {stream.state === "failed" && (
        <p className="error-text" role="status">
          {stream.error}
        </p>
      )}
      <div role="log" aria-live="polite" aria-label="Messages">
        <ol className="messages" ref={listRef}>
          <Timeline events={events} whispers={whispers} me={api.agentId} />
        </ol>
      </div>
      {!ended && (
        <form className="whisper-box" onSubmit={submit}>
          <label htmlFor={`whisper-${chatId}`} className="sr-only">
            Whisper to {agentName}
          </label>
          <input
            id={`whisper-${chatId}`}
            data-testid="whisper-input"
            value={text}
            maxLength={4096}
            placeholder={`Whisper to ${agentName} — only the agent sees this`}
            onChange={(e) => setText(e.target.value)}
          />
          <button type="submit" data-testid="whisper-send" disabled={!text.trim() || whisper.isPending}>
            Whisper
          </button>
        </form>
      )}
      {!ended && <p className="muted small">Only the agent sees this.</p>}
      {whisper.isError && (
        <p className="error-text" role="alert">
          {errorText(whisper.error)}
        </p>
      )}
    </section>
  );
}
