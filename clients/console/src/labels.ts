import { AgentStatus } from "../../gen/proactivechat/v1/agent_pb";
import { ChatEndReason } from "../../gen/proactivechat/v1/chat_pb";
import { ChatRequestKind, ChatRequestState } from "../../gen/proactivechat/v1/engagement_pb";
import { EngagementState } from "../../gen/proactivechat/v1/visitor_pb";

export const statusOptions: [AgentStatus, string][] = [
  [AgentStatus.AVAILABLE, "Available"],
  [AgentStatus.AWAY, "Away"],
  [AgentStatus.OFFLINE, "Offline"],
];

export function statusLabel(s: AgentStatus | undefined): string {
  return statusOptions.find(([v]) => v === s)?.[1] ?? "Unknown";
}

export function engagementLabel(e: EngagementState): string {
  switch (e) {
    case EngagementState.BROWSING:
      return "Browsing";
    case EngagementState.CHATTING:
      return "Chatting";
    case EngagementState.INVITED:
      return "Invited";
    case EngagementState.DECLINED:
      return "Declined invite";
    case EngagementState.FILLING_FORM:
      return "Filling form";
    case EngagementState.QUEUED:
      return "In queue";
    case EngagementState.ALERTING:
      return "Alerting agent";
    default:
      return "—";
  }
}

export function requestKindLabel(k: ChatRequestKind): string {
  switch (k) {
    case ChatRequestKind.INVITED:
      return "Accepted invite";
    case ChatRequestKind.PRESENCE:
      return "On site";
    case ChatRequestKind.VISITOR:
      return "Asked for a chat";
    default:
      return "Request";
  }
}

export function requestStateLabel(s: ChatRequestState): string {
  switch (s) {
    case ChatRequestState.QUEUED:
      return "Waiting";
    case ChatRequestState.ALERTING:
      return "Alerting";
    case ChatRequestState.ACCEPTED:
      return "Accepted";
    case ChatRequestState.ABANDONED:
      return "Abandoned";
    default:
      return "—";
  }
}

export function endReasonLabel(r: ChatEndReason): string {
  switch (r) {
    case ChatEndReason.BOTH_LEFT:
      return "both left";
    case ChatEndReason.VISITOR_DECLINED:
      return "the visitor closed the chat: no assistance required";
    case ChatEndReason.INACTIVE:
      return "inactive";
    default:
      return "ended";
  }
}

/**
 * visitorName is how agents see a visitor: the name the page or the form
 * gave, else their e-mail, else "Visitor" and a short id.
 */
export function visitorName(visitorId: string, identity?: { name: string; email: string }): string {
  return identity?.name || identity?.email || `Visitor ${shortId(visitorId)}`;
}

/**
 * chatVisitorName is a chat's visitor as agents see them: the name the
 * chat started with (the server's default is "Visitor"), else a short id.
 */
export function chatVisitorName(visitor: { id: string; displayName: string }): string {
  return visitor.displayName && visitor.displayName !== "Visitor" ? visitor.displayName : `Visitor ${shortId(visitor.id)}`;
}

/** shortId makes server ids readable in lists: visitor_k2j4h5… → k2j4h5. */
export function shortId(id: string): string {
  const s = id.replace(/^[a-z]+_/, "");
  return s.length > 8 ? s.slice(0, 8) : s;
}

/** safeHttpUrl returns the URL when it is http(s) (safe for href), else undefined. */
export function safeHttpUrl(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : undefined;
  } catch {
    return undefined;
  }
}
