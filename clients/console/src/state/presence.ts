import type { WatchPresenceResponse } from "../../../gen/proactivechat/v1/agent_service_pb";
import type { VisitorPresence } from "../../../gen/proactivechat/v1/visitor_pb";
import { durMs, tsMs } from "../lib/time";

export interface PresenceEntry {
  presence: VisitorPresence;
  /** Local time the entry was received: time on site ticks from here. */
  receivedAt: number;
}

export interface PresenceView {
  ready: boolean;
  visitors: Record<string, PresenceEntry>;
}

export const initialPresenceView: PresenceView = { ready: false, visitors: {} };

export type PresenceAction = { type: "event"; event: WatchPresenceResponse; now: number } | { type: "reset" };

export function presenceReducer(state: PresenceView, action: PresenceAction): PresenceView {
  if (action.type === "reset") return initialPresenceView;
  const ev = action.event.event;
  const now = action.now;
  switch (ev.case) {
    case "snapshot": {
      const visitors: Record<string, PresenceEntry> = {};
      for (const p of ev.value.visitors) visitors[p.visitorId] = { presence: p, receivedAt: now };
      return { ready: true, visitors };
    }
    case "arrived":
    case "changed":
      return { ...state, visitors: { ...state.visitors, [ev.value.visitorId]: { presence: ev.value, receivedAt: now } } };
    case "departed": {
      if (!(ev.value.visitorId in state.visitors)) return state;
      const visitors = { ...state.visitors };
      delete visitors[ev.value.visitorId];
      return { ...state, visitors };
    }
    default:
      return state;
  }
}

/**
 * timeOnSiteMs is the visitor's live time on site: the server's figure as of
 * when it was received plus the local time since (immune to a wrong clock on
 * the agent's computer), or the time since visit_start_time without it.
 */
export function timeOnSiteMs(entry: PresenceEntry, now: number, serverNow: number = now): number {
  const base = durMs(entry.presence.timeOnSite);
  if (base !== undefined && entry.presence.observeTime) return Math.max(0, base + (now - entry.receivedAt));
  const start = tsMs(entry.presence.visitStartTime);
  return start === undefined ? 0 : Math.max(0, serverNow - start);
}

/** sortedVisitors lists the longest-present visitors first. */
export function sortedVisitors(view: PresenceView): PresenceEntry[] {
  return Object.values(view.visitors).sort(
    (a, b) =>
      (tsMs(a.presence.visitStartTime) ?? 0) - (tsMs(b.presence.visitStartTime) ?? 0) ||
      a.presence.visitorId.localeCompare(b.presence.visitorId),
  );
}
