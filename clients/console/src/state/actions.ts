import { AgentStatus } from "../../../gen/proactivechat/v1/agent_pb";
import type { Alert } from "../../../gen/proactivechat/v1/agent_service_pb";
import { ParticipantRole } from "../../../gen/proactivechat/v1/chat_pb";
import type { ChatRequest } from "../../../gen/proactivechat/v1/engagement_pb";
import { ChatRequestState } from "../../../gen/proactivechat/v1/engagement_pb";
import { formatCountdown } from "../lib/time";
import type { AgentView } from "./agent";
import type { ChatTab } from "./chats";

/**
 * startChatHint says why the agent cannot start chats now, or undefined
 * when it can: only an Available agent starts chats (the server refuses
 * the others).
 */
export function startChatHint(status: AgentStatus | undefined): string | undefined {
  switch (status) {
    case AgentStatus.AVAILABLE:
      return undefined;
    case AgentStatus.AWAY:
      return "You are Away: set your status to Available to start chats.";
    case AgentStatus.OFFLINE:
      return "You are Offline: set your status to Available to start chats.";
    default:
      return "Your status is loading…";
  }
}

/**
 * VisitorAction is the one way the agent takes a visitor: the Accept of an
 * alert offered to the agent ("alert"), Take chat in the queue ("queue"),
 * or Start chat in the presence list ("start").
 */
export type VisitorAction = "alert" | "queue" | "start";

/** visitorAction is where the agent takes the visitor: never in two places at once. */
export function visitorAction(visitorId: string, view: AgentView): VisitorAction {
  if (view.alerts.some((a) => a.chatRequest?.visitorId === visitorId)) return "alert";
  if (view.queue.some((r) => r.visitorId === visitorId)) return "queue";
  return "start";
}

/** alertedMe reports whether the queue entry is an alert offered to this agent (Accept is its action). */
export function alertedMe(req: ChatRequest, view: AgentView, me: string): boolean {
  return (
    (req.state === ChatRequestState.ALERTING && req.alertedAgentId === me) ||
    view.alerts.some((a) => a.chatRequest?.id === req.id)
  );
}

/**
 * alertedLabel names whom a queue entry is alerting: "you", the colleague
 * by name, or "another agent" (never an internal id).
 */
export function alertedLabel(req: ChatRequest, me: string): string {
  if (req.alertedAgentId === me) return "you";
  return req.alertedAgentName || "another agent";
}

/**
 * alertLine is the plain line of an alert: where the visitor is and how
 * long the agent has to answer. (Why routing chose this agent stays in the
 * API, for supervisors: Alert.reason, ListRoutingDecisions.)
 */
export function alertLine(alert: Alert, siteName: string, remainingMs: number | undefined): string {
  const req = alert.chatRequest;
  const page = alert.visitor?.currentPage ?? req?.page;
  const where = page?.title || siteName;
  const left = remainingMs === undefined ? "" : ` — ${formatCountdown(remainingMs)} left`;
  return `A visitor on ${where} is waiting${left}`;
}

/**
 * composerBlock says why the agent's message box is closed, or undefined
 * while the visitor can read what the agent writes.
 */
export function composerBlock(tab: ChatTab): string | undefined {
  if (tab.ended) return "This chat has ended.";
  if (tab.handedTo) return `You handed this chat to ${tab.handedTo}.`;
  const left = !!tab.chat?.visitorLeftTime || tab.events.some(
    (e) => e.kind.case === "participantLeft" && e.kind.value.participant?.role === ParticipantRole.VISITOR,
  );
  if (left) return "The visitor has left: nobody would read a new message. Close the chat when you are done.";
  return undefined;
}
