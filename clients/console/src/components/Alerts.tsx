import { Code, ConnectError } from "@connectrpc/connect";
import { useMutation } from "@connectrpc/connect-query";
import { useState } from "react";
import type { Alert } from "../../../gen/proactivechat/v1/agent_service_pb";
import { AgentService } from "../../../gen/proactivechat/v1/agent_service_pb";
import type { ConsoleApi } from "../Console";
import { useNow } from "../hooks";
import { errorText } from "../lib/errors";
import { formatCountdown, formatDuration, serverNow, tsMs } from "../lib/time";
import { requestKindLabel, visitorName } from "../labels";
import { alertLine } from "../state/actions";
import { FormValues, IdentityDetails, PageLink } from "./common";

export interface AlertsBarProps {
  api: ConsoleApi;
  alerts: Alert[];
  withdrawn?: { chatRequestId: string; reason: string };
  onAnswered: (chatRequestId: string) => void;
  onDismissWithdrawn: () => void;
}

/**
 * AlertsBar is on every page, above everything: a visitor waiting for this
 * agent cannot be missed. Each alert counts down to its deadline.
 */
export function AlertsBar({ api, alerts, withdrawn, onAnswered, onDismissWithdrawn }: AlertsBarProps) {
  if (alerts.length === 0 && !withdrawn) return null;
  return (
    <section className="alerts" aria-label="Chat requests for you">
      {alerts.map((a) => (
        <AlertCard key={a.chatRequest!.id} api={api} alert={a} onAnswered={onAnswered} />
      ))}
      {withdrawn && alerts.length === 0 && (
        <div className="notice" role="status" data-testid="alert-withdrawn">
          A chat request offered to you was withdrawn ({withdrawn.reason}).
          <button type="button" className="ghost" onClick={onDismissWithdrawn}>
            Dismiss
          </button>
        </div>
      )}
    </section>
  );
}

function AlertCard({ api, alert, onAnswered }: { api: ConsoleApi; alert: Alert; onAnswered: (id: string) => void }) {
  const now = useNow();
  const req = alert.chatRequest!;
  const [error, setError] = useState<string>();
  const gone = (err: ConnectError) => err.code === Code.FailedPrecondition || err.code === Code.NotFound;
  const accept = useMutation(AgentService.method.acceptChatRequest, {
    onSuccess: (res) => {
      onAnswered(req.id);
      if (res.chat) api.openChat(res.chat.id, res.chat);
    },
    onError: (err) => {
      setError(errorText(err));
      if (gone(err)) setTimeout(() => onAnswered(req.id), 4000);
    },
  });
  const decline = useMutation(AgentService.method.declineChatRequest, {
    onSuccess: () => onAnswered(req.id),
    onError: (err) => {
      setError(errorText(err));
      if (gone(err)) setTimeout(() => onAnswered(req.id), 4000);
    },
  });
  const deadline = tsMs(req.alertDeadline);
  const remaining = deadline === undefined ? undefined : deadline - serverNow(now);
  const enqueued = tsMs(req.enqueueTime);
  const site = api.site(req.siteId);
  const total = (site?.proactiveChat?.alertTimeoutSeconds || 30) * 1000;
  const busy = accept.isPending || decline.isPending;
  const page = alert.visitor?.currentPage ?? req.page;
  const identity = alert.visitor?.identity ?? req.visitorIdentity;
  const urgent = remaining !== undefined && remaining < 10_000;
  return (
    <article
      className={`alert-card${urgent ? " urgent" : ""}`}
      role="alert"
      aria-labelledby={`alert-title-${req.id}`}
      data-testid="alert"
      data-chat-request-id={req.id}
      data-visitor-id={req.visitorId}
    >
      <div className="alert-main">
        <h2 id={`alert-title-${req.id}`}>
          <BellIcon />
          {visitorName(req.visitorId, identity)} is waiting on {api.siteName(req.siteId)}
        </h2>
        <p className="alert-meta">
          <span className="tag">{requestKindLabel(req.kind)}</span>
          {page && <PageLink page={page} />}
          {enqueued !== undefined && <span>waiting {formatDuration(serverNow(now) - enqueued)}</span>}
        </p>
        <IdentityDetails identity={identity} />
        <FormValues values={req.formValues} fields={site?.proactiveChat?.formFields} />
        <p className="small" data-testid="alert-line" aria-live="off">
          {alertLine(alert, api.siteName(req.siteId), remaining === undefined ? undefined : Math.min(remaining, total))}
        </p>
        {error && (
          <p className="error-text" data-testid="alert-error">
            {error}
          </p>
        )}
      </div>
      <div className="alert-side">
        {remaining !== undefined && (
          <div className="countdown" aria-label="Time left to answer">
            <span className="countdown-value" data-testid="alert-countdown" aria-live="off">
              {formatCountdown(Math.min(remaining, total))}
            </span>
            <progress max={total} value={Math.max(0, Math.min(total, remaining))} aria-hidden="true" />
          </div>
        )}
        <div className="alert-actions">
          <button
            type="button"
            className="primary big"
            data-testid="accept-alert"
            disabled={busy}
            onClick={() => accept.mutate({ agentId: api.agentId, chatRequestId: req.id })}
          >
            {accept.isPending ? "Accepting…" : "Accept"}
          </button>
          <button
            type="button"
            className="big"
            data-testid="decline-alert"
            disabled={busy}
            onClick={() => decline.mutate({ agentId: api.agentId, chatRequestId: req.id })}
          >
            Decline
          </button>
        </div>
      </div>
    </article>
  );
}

function BellIcon() {
  return (
    <svg className="bell" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
      <path
        fill="currentColor"
        d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2z"
      />
    </svg>
  );
}
