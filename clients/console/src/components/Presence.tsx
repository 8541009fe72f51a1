import { useMutation } from "@connectrpc/connect-query";
import { memo, useEffect, useState } from "react";
import type { AgentStatus } from "../../../gen/proactivechat/v1/agent_pb";
import { AgentService } from "../../../gen/proactivechat/v1/agent_service_pb";
import { EngagementState } from "../../../gen/proactivechat/v1/visitor_pb";
import { ProactiveChatMode } from "../../../gen/proactivechat/v1/site_pb";
import type { ConsoleApi } from "../Console";
import { useNow } from "../hooks";
import { errorText } from "../lib/errors";
import type { StreamStatus } from "../lib/stream";
import { formatDuration, serverNow } from "../lib/time";
import { engagementLabel, visitorName } from "../labels";
import type { VisitorAction } from "../state/actions";
import { startChatHint, visitorAction } from "../state/actions";
import type { AgentView } from "../state/agent";
import type { ChatsView } from "../state/chats";
import type { PresenceEntry, PresenceView } from "../state/presence";
import { sortedVisitors, timeOnSiteMs } from "../state/presence";
import { IdentityDetails, PageLink } from "./common";

export interface PresencePanelProps {
  api: ConsoleApi;
  presence: PresenceView;
  chats: ChatsView;
  stream: StreamStatus;
  /** The agent's status, alerts and queue: who may be taken, and where. */
  agent: AgentView;
}

/** PresencePanel lists the visitors on the agent's sites right now. */
export function PresencePanel({ api, presence, chats, stream, agent }: PresencePanelProps) {
  const visitors = sortedVisitors(presence);
  const myChats = new Set(chats.tabs.map((t) => t.id));
  const status = agent.agent?.status;
  const hint = startChatHint(status);
  return (
    <section className="panel" aria-labelledby="presence-title" data-testid="presence">
      <h2 id="presence-title">
        Visitors on your sites <span className="count" data-testid="visitor-count">{visitors.length}</span>
      </h2>
      {presence.ready && visitors.length > 0 && hint && (
        <p className="notice small" id="start-chat-hint" data-testid="start-chat-hint">
          {hint}
        </p>
      )}
      {!presence.ready ? (
        <p className="muted">{stream.state === "failed" ? `Cannot load visitors: ${stream.error}` : "Loading…"}</p>
      ) : visitors.length === 0 ? (
        <p className="muted" data-testid="no-visitors">
          Nobody is on your sites right now.
        </p>
      ) : (
        <ul className="rows">
          {visitors.map((v) => (
            <VisitorRow
              key={v.presence.visitorId}
              api={api}
              entry={v}
              myChat={!!v.presence.activeChatId && myChats.has(v.presence.activeChatId)}
              status={status}
              action={visitorAction(v.presence.visitorId, agent)}
              supervisedOnly={
                !!agent.agent?.supervisedSiteIds.includes(v.presence.siteId) && !agent.agent.siteIds.includes(v.presence.siteId)
              }
            />
          ))}
        </ul>
      )}
    </section>
  );
}

interface VisitorRowProps {
  api: ConsoleApi;
  entry: PresenceEntry;
  myChat: boolean;
  status: AgentStatus | undefined;
  action: VisitorAction;
  /** The visitor is on a site the agent supervises but does not serve: it watches, it does not chat. */
  supervisedOnly?: boolean;
}

const VisitorRow = memo(function VisitorRow({ api, entry, myChat, status, action, supervisedOnly }: VisitorRowProps) {
  const p = entry.presence;
  const [note, setNote] = useState<{ text: string; error: boolean }>();
  // A refusal ("you are offline") no longer holds once the status changed.
  useEffect(() => setNote(undefined), [status]);
  const startHint = startChatHint(status);
  const invite = useMutation(AgentService.method.inviteVisitor, {
    onSuccess: () => setNote({ text: "Invitation sent", error: false }),
    onError: (err) => setNote({ text: errorText(err), error: true }),
  });
  const start = useMutation(AgentService.method.startChat, {
    onSuccess: (res) => {
      setNote(undefined);
      if (res.chat) api.openChat(res.chat.id, res.chat);
    },
    onError: (err) => setNote({ text: errorText(err), error: true }),
  });
  const site = api.site(p.siteId);
  const withInvite = site?.proactiveChat?.mode !== ProactiveChatMode.WITHOUT_INVITE;
  const chatting = p.engagement === EngagementState.CHATTING || !!p.activeChatId;
  const busy = invite.isPending || start.isPending;
  return (
    <li className="row visitor-row" data-testid="visitor-row" data-visitor-id={p.visitorId}>
      <div className="row-main">
        <div className="row-title">
          <strong title={p.visitorId} data-testid="visitor-name">
            {visitorName(p.visitorId, p.identity)}
          </strong>
          <span className={`tag engagement-${p.engagement}`} data-testid="engagement">
            {engagementLabel(p.engagement)}
          </span>
          {p.openStreams === 0 && <span className="tag muted-tag">between pages</span>}
          {p.openStreams > 1 && <span className="tag muted-tag">{p.openStreams} tabs</span>}
        </div>
        <div className="row-sub">
          {p.currentPage && <PageLink page={p.currentPage} />}
          <span className="muted"> · {api.siteName(p.siteId)}</span>
        </div>
        <IdentityDetails identity={p.identity} />
        {note && (
          <div className={note.error ? "error-text" : "ok-text"} role="status" data-testid="visitor-note">
            {note.text}
          </div>
        )}
      </div>
      <div className="row-side">
        <TimeOnSite entry={entry} />
        <div className="row-actions">
          {myChat ? (
            <button type="button" onClick={() => api.openChat(p.activeChatId)} data-testid="open-chat">
              Open chat
            </button>
          ) : supervisedOnly ? (
            <span className="muted small" data-testid="visitor-action-elsewhere">
              You supervise this site
            </span>
          ) : action !== "start" ? (
            // One action per visitor: the alert's Accept, or the queue's Take chat.
            <span className="muted small" data-testid="visitor-action-elsewhere">
              {action === "alert" ? "Waiting for you: Accept above" : "In the queue"}
            </span>
          ) : (
            <>
              {withInvite && (
                <button
                  type="button"
                  disabled={busy || chatting || p.engagement === EngagementState.INVITED}
                  onClick={() => invite.mutate({ agentId: api.agentId, visitorId: p.visitorId })}
                  data-testid="invite-visitor"
                >
                  Invite
                </button>
              )}
              <button
                type="button"
                className="primary"
                disabled={busy || chatting}
                // Focusable while unavailable, so its reason is read out.
                aria-disabled={startHint ? true : undefined}
                aria-describedby={startHint ? "start-chat-hint" : undefined}
                title={startHint}
                onClick={() => {
                  if (!startHint) start.mutate({ agentId: api.agentId, visitorId: p.visitorId });
                }}
                data-testid="start-chat"
              >
                Start chat
              </button>
            </>
          )}
        </div>
      </div>
    </li>
  );
});

function TimeOnSite({ entry }: { entry: PresenceEntry }) {
  const now = useNow();
  const ms = timeOnSiteMs(entry, Math.max(now, entry.receivedAt), serverNow(now));
  return (
    <span className="time" title="Time on site" data-testid="time-on-site">
      <span className="sr-only">Time on site </span>
      {formatDuration(ms)}
    </span>
  );
}
