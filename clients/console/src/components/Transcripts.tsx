import { useInfiniteQuery, useQuery } from "@connectrpc/connect-query";
import { useState } from "react";
import type { FormEvent } from "react";
import { ChatState } from "../../../gen/proactivechat/v1/chat_pb";
import { ChatService } from "../../../gen/proactivechat/v1/chat_service_pb";
import type { Site } from "../../../gen/proactivechat/v1/site_pb";
import type { ConsoleApi } from "../Console";
import { useClients } from "../hooks";
import { downloadText, listChatsRequest, noFilters, rangeError, visitorLabel } from "../lib/chatList";
import type { ChatFilters } from "../lib/chatList";
import { errorText } from "../lib/errors";
import { formatDateTime, tsMs } from "../lib/time";
import { chatVisitorName, endReasonLabel, shortId } from "../labels";
import { EventItem } from "./Chats";
import { RatingView } from "./Rating";

export interface TranscriptsPageProps {
  api: ConsoleApi;
  /** The sites the agent serves, for the site filter. */
  sites: Site[];
  openTabs: string[];
}

/**
 * TranscriptsPage lists every chat of the agent's sites (ListChats, newest
 * first, 50 at a time) with filters and a search by the visitor's name or
 * e-mail, and shows the transcript of the one picked.
 */
export function TranscriptsPage({ api, sites, openTabs }: TranscriptsPageProps) {
  const [form, setForm] = useState<ChatFilters>(noFilters);
  const [filters, setFilters] = useState<ChatFilters>(noFilters);
  const [selected, setSelected] = useState<string | undefined>();
  const [lookup, setLookup] = useState("");
  const badRange = rangeError(form);
  // The selects and dates apply at once; the search box on Enter or Search.
  const change = (patch: Partial<ChatFilters>) => {
    const next = { ...form, ...patch };
    setForm(next);
    if (!rangeError(next) && !("query" in patch)) setFilters({ ...next, query: filters.query });
  };
  const search = (e: FormEvent) => {
    e.preventDefault();
    if (!badRange) setFilters(form);
  };
  const chats = useInfiniteQuery(ChatService.method.listChats, listChatsRequest(filters), {
    pageParamKey: "pageToken",
    getNextPageParam: (res) => res.nextPageToken || undefined,
  });
  const list = chats.data?.pages.flatMap((p) => p.chats) ?? [];
  const picked = list.find((s) => s.chat?.id === selected);
  const find = (e: FormEvent) => {
    e.preventDefault();
    if (lookup.trim()) setSelected(lookup.trim());
  };
  return (
    <div className="two-col">
      <section className="panel" aria-labelledby="past-title">
        <h2 id="past-title">Chats</h2>
        <form onSubmit={search} className="filters" aria-label="Filter chats" data-testid="chat-filters">
          <label>
            Site
            <select value={form.siteId} onChange={(e) => change({ siteId: e.target.value })} data-testid="filter-site">
              <option value="">All my sites</option>
              {sites.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name || s.id}
                </option>
              ))}
            </select>
          </label>
          <label>
            State
            <select
              value={form.state}
              onChange={(e) => change({ state: e.target.value as ChatFilters["state"] })}
              data-testid="filter-state"
            >
              <option value="any">Any</option>
              <option value="active">Active</option>
              <option value="ended">Ended</option>
            </select>
          </label>
          <label>
            From
            <input type="date" value={form.from} onChange={(e) => change({ from: e.target.value })} data-testid="filter-from" />
          </label>
          <label>
            To
            <input type="date" value={form.to} onChange={(e) => change({ to: e.target.value })} data-testid="filter-to" />
          </label>
          <label className="wide">
            Visitor name or e-mail
            <span className="inline">
              <input
                type="search"
                value={form.query}
                onChange={(e) => change({ query: e.target.value })}
                placeholder="Ann, ann@example.com…"
                data-testid="filter-query"
              />
              <button type="submit" disabled={!!badRange}>
                Search
              </button>
            </span>
          </label>
          {badRange && (
            <p className="error-text" role="alert">
              {badRange}
            </p>
          )}
        </form>
        {chats.error && (
          <p className="error-text" role="alert">
            {errorText(chats.error)}
          </p>
        )}
        {chats.isPending && !chats.error && <p className="muted">Loading…</p>}
        {!chats.isPending && !chats.error && list.length === 0 && !chats.hasNextPage && (
          <p className="muted">No chats match.</p>
        )}
        <ul className="pick-list" data-testid="transcript-list">
          {list.map((s) => {
            const c = s.chat;
            if (!c) return null;
            return (
              <li key={c.id}>
                <button
                  type="button"
                  className="pick"
                  aria-current={c.id === selected ? "true" : undefined}
                  onClick={() => setSelected(c.id)}
                  data-testid="transcript-item"
                  data-chat-id={c.id}
                >
                  <strong>{visitorLabel(s, shortId)}</strong>
                  <span className="muted small">
                    {api.siteName(c.siteId)} · {formatDateTime(tsMs(c.createTime))} · {c.agent?.displayName || c.agent?.id}
                    {c.state === ChatState.ACTIVE ? " · active" : ` · ${endReasonLabel(c.endReason)}`}
                    {c.rating && ` · rated ${c.rating.score}/5`}
                    {openTabs.includes(c.id) && " · open"}
                  </span>
                </button>
              </li>
            );
          })}
        </ul>
        {chats.hasNextPage && (
          <button
            type="button"
            onClick={() => void chats.fetchNextPage()}
            disabled={chats.isFetchingNextPage}
            data-testid="load-more-chats"
          >
            {chats.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
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
          <Transcript
            key={selected}
            api={api}
            chatId={selected}
            visitor={picked && visitorLabel(picked, shortId)}
            open={openTabs.includes(selected)}
          />
        ) : (
          <h2 id="transcript-title" className="muted">
            Pick a chat
          </h2>
        )}
      </section>
    </div>
  );
}

interface TranscriptProps {
  api: ConsoleApi;
  chatId: string;
  /** How the chat list names the visitor (with the name and e-mail they gave), if the chat came from it. */
  visitor?: string;
  open: boolean;
}

function Transcript({ api, chatId, visitor, open }: TranscriptProps) {
  const clients = useClients();
  const chat = useQuery(ChatService.method.getChat, { chatId });
  const events = useInfiniteQuery(
    ChatService.method.listChatEvents,
    { chatId, afterSeq: 0, pageSize: 500 },
    { pageParamKey: "afterSeq", getNextPageParam: (res) => res.nextAfterSeq || undefined },
  );
  const [downloading, setDownloading] = useState(false);
  const [downloadError, setDownloadError] = useState<unknown>();
  const download = async () => {
    setDownloading(true);
    setDownloadError(undefined);
    try {
      const res = await clients.chat.getChatTranscript({ chatId });
      downloadText(res.fileName || `transcript-${chatId}.txt`, res.text);
    } catch (err) {
      setDownloadError(err);
    } finally {
      setDownloading(false);
    }
  };
  const c = chat.data?.chat;
  const list = events.data?.pages.flatMap((p) => p.events) ?? [];
  return (
    <div data-testid="transcript" data-chat-id={chatId}>
      <div className="chat-head">
        <h2 id="transcript-title">
          {visitor ?? (c?.visitor ? chatVisitorName(c.visitor) : `Chat ${shortId(chatId)}`)}
          {c && <span className="muted"> · {api.siteName(c.siteId)}</span>}
        </h2>
        <span className="inline">
          <button type="button" onClick={() => void download()} disabled={downloading} data-testid="download-transcript">
            {downloading ? "Preparing…" : "Download transcript"}
          </button>
          {open && (
            <button type="button" onClick={() => { api.openChat(chatId); window.location.hash = "#/"; }}>
              Go to chat
            </button>
          )}
        </span>
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
      <RatingView rating={c?.rating} />
      {(chat.error || events.error || downloadError !== undefined) && (
        <p className="error-text" role="alert">
          {errorText(chat.error ?? events.error ?? downloadError)}
        </p>
      )}
      {events.isPending && !events.error && <p className="muted">Loading…</p>}
      <ol className="messages transcript" aria-label="Transcript">
        {list.map((ev, i) => (
          <EventItem key={ev.seq} ev={ev} me={api.agentId} prev={list[i - 1]} />
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
