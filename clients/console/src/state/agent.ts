import type { Agent } from "../../../gen/proactivechat/v1/agent_pb";
import type { Alert, WatchAgentResponse } from "../../../gen/proactivechat/v1/agent_service_pb";
import type { ChatRequest } from "../../../gen/proactivechat/v1/engagement_pb";
import { ChatRequestState } from "../../../gen/proactivechat/v1/engagement_pb";
import { tsMs } from "../lib/time";

/** AgentView is what WatchAgent has told the console so far. */
export interface AgentView {
  /** Set once the first snapshot arrived. */
  agent?: Agent;
  /** Open chat requests of the agent's sites (queued or alerting), oldest first. */
  queue: ChatRequest[];
  /** Chat requests offered to this agent now, oldest first. */
  alerts: Alert[];
  /** The latest alert that went away without the agent answering it. */
  withdrawn?: { chatRequestId: string; reason: string };
}

export const initialAgentView: AgentView = { queue: [], alerts: [] };

export type AgentAction =
  | { type: "event"; event: WatchAgentResponse }
  /** The agent answered an alert (accepted or declined): it goes away at once. */
  | { type: "answered"; chatRequestId: string }
  | { type: "agent"; agent: Agent }
  | { type: "dismissWithdrawn" }
  | { type: "reset" };

const isOpen = (r: ChatRequest) =>
  r.state === ChatRequestState.QUEUED || r.state === ChatRequestState.ALERTING;

const byEnqueue = (a: ChatRequest, b: ChatRequest) =>
  (tsMs(a.enqueueTime) ?? 0) - (tsMs(b.enqueueTime) ?? 0) || a.id.localeCompare(b.id);

const alertId = (a: Alert) => a.chatRequest?.id ?? "";

function upsertRequest(queue: ChatRequest[], req: ChatRequest): ChatRequest[] {
  const rest = queue.filter((r) => r.id !== req.id);
  return isOpen(req) ? [...rest, req].sort(byEnqueue) : rest;
}

function upsertAlert(alerts: Alert[], alert: Alert): Alert[] {
  const id = alertId(alert);
  const rest = alerts.filter((a) => alertId(a) !== id);
  return [...rest, alert].sort((a, b) => byEnqueue(a.chatRequest!, b.chatRequest!));
}

export function agentReducer(state: AgentView, action: AgentAction): AgentView {
  switch (action.type) {
    case "reset":
      return initialAgentView;
    case "agent":
      return { ...state, agent: action.agent };
    case "dismissWithdrawn":
      return { ...state, withdrawn: undefined };
    case "answered":
      return { ...state, alerts: state.alerts.filter((a) => alertId(a) !== action.chatRequestId) };
    case "event":
      break;
  }
  const ev = action.event.event;
  switch (ev.case) {
    case "snapshot":
      // A (re)connect: the snapshot is the whole truth.
      return {
        agent: ev.value.agent,
        queue: ev.value.queue.filter(isOpen).sort(byEnqueue),
        alerts: ev.value.alerts.filter((a) => a.chatRequest).sort((a, b) => byEnqueue(a.chatRequest!, b.chatRequest!)),
        withdrawn: state.withdrawn,
      };
    case "alert": {
      const req = ev.value.chatRequest;
      if (!req) return state;
      return { ...state, alerts: upsertAlert(state.alerts, ev.value), queue: upsertRequest(state.queue, req) };
    }
    case "alertWithdrawn": {
      const had = state.alerts.some((a) => alertId(a) === ev.value.chatRequestId);
      return {
        ...state,
        alerts: state.alerts.filter((a) => alertId(a) !== ev.value.chatRequestId),
        withdrawn:
          had && ev.value.reason !== "accepted" && ev.value.reason !== "declined"
            ? { chatRequestId: ev.value.chatRequestId, reason: ev.value.reason }
            : state.withdrawn,
      };
    }
    case "queueChanged": {
      const req = ev.value;
      const me = state.agent?.id;
      // An alert whose request is no longer offered to this agent is stale
      // even if its alert_withdrawn has not arrived yet.
      const stillMine = req.state === ChatRequestState.ALERTING && (!me || req.alertedAgentId === me);
      const alerts = stillMine
        ? state.alerts.map((a) => (alertId(a) === req.id ? { ...a, chatRequest: req } : a))
        : state.alerts.filter((a) => alertId(a) !== req.id);
      return { ...state, queue: upsertRequest(state.queue, req), alerts };
    }
    case "agentChanged":
      return { ...state, agent: ev.value };
    case "keepAlive":
    default:
      return state;
  }
}
