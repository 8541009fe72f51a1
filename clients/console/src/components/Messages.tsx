import { createConnectQueryKey, createQueryOptions, useInfiniteQuery, useMutation, useTransport } from "@connectrpc/connect-query";
import { useQueries, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { AgentService } from "../../../gen/proactivechat/v1/agent_service_pb";
import { OfflineMessageState, type OfflineMessage } from "../../../gen/proactivechat/v1/offline_message_pb";
import type { Site } from "../../../gen/proactivechat/v1/site_pb";
import { errorText } from "../lib/errors";
import { formatDateTime, tsMs } from "../lib/time";

/** How often the unhandled count is read again (messages arrive without a stream). */
const REFRESH_MS = 30_000;

/** useNewMessageCount is how many messages visitors left on the agent's sites that nobody handled yet. */
export function useNewMessageCount(sites: Site[]): number {
  const transport = useTransport();
  const results = useQueries({
    queries: sites.map((s) => ({
      ...createQueryOptions(
        AgentService.method.listOfflineMessages,
        { siteId: s.id, state: OfflineMessageState.NEW, pageSize: 1 },
        { transport },
      ),
      refetchInterval: REFRESH_MS,
    })),
  });
  return results.reduce((n, r) => n + (r.data?.newCount ?? 0), 0);
}

type StateFilter = "new" | "handled" | "all";
const stateOf: Record<StateFilter, OfflineMessageState> = {
  new: OfflineMessageState.NEW,
  handled: OfflineMessageState.HANDLED,
  all: OfflineMessageState.UNSPECIFIED,
};

export interface MessagesPageProps {
  /** The sites the agent serves. */
  sites: Site[];
}

/**
 * MessagesPage lists the messages visitors left when nobody could chat
 * (outside business hours, nobody available, a long wait), newest first,
 * for follow-up by e-mail; "Mark handled" records who followed one up.
 */
export function MessagesPage({ sites }: MessagesPageProps) {
  const [siteId, setSiteId] = useState("");
  const [filter, setFilter] = useState<StateFilter>("new");
  const site = siteId || sites[0]?.id || "";
  const messages = useInfiniteQuery(
    AgentService.method.listOfflineMessages,
    { siteId: site, state: stateOf[filter], pageToken: "" },
    { pageParamKey: "pageToken", getNextPageParam: (res) => res.nextPageToken || undefined, enabled: site !== "" },
  );
  const list = messages.data?.pages.flatMap((p) => p.messages) ?? [];
  return (
    <section className="panel" aria-labelledby="messages-title">
      <h2 id="messages-title">Messages</h2>
      <p className="muted">Left by visitors when nobody could chat. Answer them by e-mail, then mark them handled.</p>
      <div className="filters">
        <label>
          Site
          <select value={site} onChange={(e) => setSiteId(e.target.value)} data-testid="messages-site">
            {sites.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name || s.id}
              </option>
            ))}
          </select>
        </label>
        <label>
          Show
          <select value={filter} onChange={(e) => setFilter(e.target.value as StateFilter)} data-testid="messages-state">
            <option value="new">To follow up</option>
            <option value="handled">Handled</option>
            <option value="all">All</option>
          </select>
        </label>
      </div>
      {messages.error && (
        <p className="error-text" role="alert">
          {errorText(messages.error)}
        </p>
      )}
      {sites.length === 0 && <p className="muted">You serve no site.</p>}
      {messages.isPending && site && !messages.error && <p className="muted">Loading…</p>}
      {!messages.isPending && !messages.error && list.length === 0 && <p className="muted">No messages.</p>}
      <ul className="pick-list messages" data-testid="messages-list">
        {list.map((m) => (
          <MessageItem key={m.id} message={m} />
        ))}
      </ul>
      {messages.hasNextPage && (
        <button type="button" onClick={() => void messages.fetchNextPage()} disabled={messages.isFetchingNextPage}>
          More
        </button>
      )}
    </section>
  );
}

function MessageItem({ message: m }: { message: OfflineMessage }) {
  const transport = useTransport();
  const queryClient = useQueryClient();
  const [error, setError] = useState("");
  const mark = useMutation(AgentService.method.markOfflineMessageHandled, {
    onSuccess: () => {
      setError("");
      void queryClient.invalidateQueries({
        queryKey: createConnectQueryKey({ schema: AgentService.method.listOfflineMessages, transport, cardinality: undefined }),
      });
    },
    onError: (err) => setError(errorText(err)),
  });
  const handled = m.state === OfflineMessageState.HANDLED;
  return (
    <li className="card message-item" data-testid="offline-message" data-id={m.id}>
      <p>
        <strong>{m.name}</strong> · <a href={`mailto:${m.email}`}>{m.email}</a>
        <span className="muted"> · {formatDateTime(tsMs(m.createTime))}</span>
      </p>
      <p className="message-text">{m.text}</p>
      {m.page && <p className="muted small">On {m.page}</p>}
      {handled ? (
        <p className="muted small" data-testid="handled-note">
          Handled by {m.handledBy} · {formatDateTime(tsMs(m.handledTime))}
        </p>
      ) : (
        <button
          type="button"
          onClick={() => mark.mutate({ offlineMessageId: m.id })}
          disabled={mark.isPending}
          data-testid="mark-handled"
        >
          Mark handled
        </button>
      )}
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}
