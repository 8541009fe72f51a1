import { useMutation } from "@connectrpc/connect-query";
import { useState } from "react";
import { AgentService } from "../../../gen/proactivechat/v1/agent_service_pb";
import type { ChatRequest } from "../../../gen/proactivechat/v1/engagement_pb";
import { ChatRequestState } from "../../../gen/proactivechat/v1/engagement_pb";
import type { ConsoleApi } from "../Console";
import { useNow } from "../hooks";
import { errorText } from "../lib/errors";
import { formatDuration, serverNow, tsMs } from "../lib/time";
import { requestKindLabel, requestStateLabel, visitorName } from "../labels";
import { alertedLabel, alertedMe } from "../state/actions";
import type { AgentView } from "../state/agent";
import { FormValues, IdentityDetails, PageLink } from "./common";

/** QueuePanel is the waiting queue of the agent's sites, first in first out. */
export function QueuePanel({ api, queue, ready, agent }: { api: ConsoleApi; queue: ChatRequest[]; ready: boolean; agent: AgentView }) {
  return (
    <section className="panel" aria-labelledby="queue-title" data-testid="queue">
      <h2 id="queue-title">
        Waiting queue <span className="count" data-testid="queue-count">{queue.length}</span>
      </h2>
      {!ready ? (
        <p className="muted">Loading…</p>
      ) : queue.length === 0 ? (
        <p className="muted" data-testid="queue-empty">
          Nobody is waiting.
        </p>
      ) : (
        <ol className="rows">
          {queue.map((r, i) => (
            <QueueRow key={r.id} api={api} req={r} position={i + 1} mine={alertedMe(r, agent, api.agentId)} />
          ))}
        </ol>
      )}
    </section>
  );
}

function QueueRow({ api, req, position, mine }: { api: ConsoleApi; req: ChatRequest; position: number; mine: boolean }) {
  const now = useNow();
  const [error, setError] = useState<string>();
  const accept = useMutation(AgentService.method.acceptChatRequest, {
    onSuccess: (res) => res.chat && api.openChat(res.chat.id, res.chat),
    onError: (err) => setError(errorText(err)),
  });
  const enqueued = tsMs(req.enqueueTime);
  const holdUntil = tsMs(req.holdUntil);
  const site = api.site(req.siteId);
  const identity = req.visitorIdentity;
  const alertingOther = req.state === ChatRequestState.ALERTING && req.alertedAgentId !== api.agentId;
  return (
    <li className="row queue-row" data-testid="queue-row" data-chat-request-id={req.id}>
      <div className="row-main">
        <div className="row-title">
          <span className="position" aria-label={`Position ${position}`}>
            {position}
          </span>
          <strong title={req.visitorId}>{visitorName(req.visitorId, identity)}</strong>
          <span className="tag">{requestKindLabel(req.kind)}</span>
          <span className={`tag state-${req.state}`} data-testid="queue-state">
            {requestStateLabel(req.state)}
            {req.state === ChatRequestState.ALERTING && ` ${alertedLabel(req, api.agentId)}`}
          </span>
          {holdUntil !== undefined && <span className="tag muted-tag">visitor away, place kept</span>}
        </div>
        <div className="row-sub">
          {req.page && <PageLink page={req.page} />}
          <span className="muted"> · {api.siteName(req.siteId)}</span>
        </div>
        <IdentityDetails identity={identity} />
        <FormValues values={req.formValues} fields={site?.proactiveChat?.formFields} />
        {error && (
          <div className="error-text" role="status">
            {error}
          </div>
        )}
      </div>
      <div className="row-side">
        <span className="time" title="Waiting for" data-testid="wait-time">
          <span className="sr-only">Waiting for </span>
          {enqueued !== undefined ? formatDuration(serverNow(now) - enqueued) : ""}
        </span>
        <div className="row-actions">
          {mine ? (
            // One action per visitor: this one is the alert's Accept.
            <span className="muted small" data-testid="queue-action-elsewhere">
              Accept above
            </span>
          ) : (
            <button
              type="button"
              disabled={accept.isPending}
              onClick={() => accept.mutate({ agentId: api.agentId, chatRequestId: req.id })}
              data-testid="accept-queued"
              title={alertingOther ? `${alertedLabel(req, api.agentId)} is being alerted; you can still take it` : undefined}
            >
              Take chat
            </button>
          )}
        </div>
      </div>
    </li>
  );
}
