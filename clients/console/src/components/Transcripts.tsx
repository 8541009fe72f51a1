import { useInfiniteQuery, useQuery } from "@connectrpc/connect-query";
import { useState } from "react";
import type { FormEvent } from "react";
import { ChatState } from "../../../gen/proactivechat/v1/chat_pb";
import { ChatService } from "../../../gen/proactivechat/v1/chat_service_pb";
import type { ConsoleApi } from "../Console";
import { errorText } from "../lib/errors";
import type { PastChat } from "../lib/pastChats";
import { formatDateTime, tsMs } from "../lib/time";
import { chatVisitorName, endReasonLabel, shortId } from "../labels";
import { EventItem } from "./Chats";

export interface TranscriptsPageProps {
  api: ConsoleApi;
  pastChats: PastChat[];
  openTabs: string[];
}

/** TranscriptsPage lists the chats this console took part in and shows their transcripts. */
export function TranscriptsPage({ api, pastChats, openTabs }: TranscriptsPageProps) {
  const [selected, setSelected] = useState<string | undefined>(pastChats[0]?.chatId);
  const [lookup, setLookup] = useState("");
  const find = (e: FormEvent) => {
    e.preventDefault();
    if (lookup.trim()) setSelected(lookup.trim());
  };
  return (
    <div className="two-col">
      <section className="panel" aria-labelledby="past-title">
        <h2 id="past-title">Your chats</h2>
        {pastChats.length === 0 ? (
          <p className="muted">No chats yet on this computer.</p>
        ) : (
          <ul className="pick-list" data-testid="transcript-list">
            {pastChats.map((c) => (
              <li key={c.chatId}>
                <button
                  type="button"
                  className="pick"
                  aria-current={c.chatId === selected ? "true" : undefined}
                  onClick={() => setSelected(c.chatId)}
                  data-testid="transcript-item"
                  data-chat-id={c.chatId}
                >
                  <strong>Visitor {shortId(c.visitorId)}</strong>
                  <span className="muted small">
                    {api.siteName(c.siteId)} · {formatDateTime(c.createTimeMs)}
                    {openTabs.includes(c.chatId) && " · open"}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        )}
        <form onSubmit={find} className="inline-form">
          <label htmlFor="chat-lookup">Find a chat by id</label>
          <div className="inline">
            <input
              id="chat-lookup"
              value={lookup}
              onChange={(e) => setLookup(e.target.value)}
              placeholder="chat_…"
              data-testid="chat-lookup"
            />
            <button type="submit">Show</button>
          </div>
        </form>
      </section>
      <section className="panel" aria-labelledby="transcript-title">
        {selected ? (
          <Transcript key={selected} api={api} chatId={selected} open={openTabs.includes(selected)} />
        ) : (
          <h2 id="transcript-title" className="muted">
            Pick a chat
          </h2>
        )}
      </section>
    </div>
  );
}

function Transcript({ api, chatId, open }: { api: ConsoleApi; chatId: string; open: boolean }) {
  const chat = useQuery(ChatService.method.getChat, { chatId });
  const events = useInfiniteQuery(
    ChatService.method.listChatEvents,
    { chatId, afterSeq: 0, pageSize: 500 },
    { pageParamKey: "afterSeq", getNextPageParam: (res) => res.nextAfterSeq || undefined },
  );
  const c = chat.data?.chat;
  const list = events.data?.pages.flatMap((p) => p.events) ?? [];
  return (
    <div data-testid="transcript" data-chat-id={chatId}>
      <div className="chat-head">
        <h2 id="transcript-title">
          {c?.visitor ? chatVisitorName(c.visitor) : `Chat ${shortId(chatId)}`}
          {c && <span className="muted"> · {api.siteName(c.siteId)}</span>}
        </h2>
        {open && (
          <button type="button" onClick={() => { api.openChat(chatId); window.location.hash = "#/"; }}>
            Go to chat
          </button>
        )}
      </div>
      {c && (
        <p className="muted small">
          Started {formatDateTime(tsMs(c.createTime))}
          {c.state === ChatState.ENDED
            ? ` · ended ${formatDateTime(tsMs(c.endTime))} (${endReasonLabel(c.endReason)})`
            : " · still active"}
          {` · ${c.lastSeq} events`}
        </p>
      )}
      {(chat.error || events.error) && (
        <p className="error-text" role="alert">
          {errorText(chat.error ?? events.error)}
        </p>
      )}
      {events.isPending && !events.error && <p className="muted">Loading…</p>}
      <ol className="messages transcript" aria-label="Transcript">
        {list.map((ev) => (
          <EventItem key={ev.seq} ev={ev} me={api.agentId} />
        ))}
      </ol>
      {events.hasNextPage && (
        <button type="button" onClick={() => void events.fetchNextPage()} disabled={events.isFetchingNextPage}>
          {events.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      )}
    </div>
  );
}
