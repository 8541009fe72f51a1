import type { Funnel } from "../../../gen/proactivechat/v1/admin_service_pb";

/** FunnelRange is a range the admin page offers: today, the last 7 or 30 days. */
export type FunnelRange = "today" | "7d" | "30d";

export const funnelRangeLabels: Record<FunnelRange, string> = {
  today: "Today",
  "7d": "7 days",
  "30d": "30 days",
};

const day = 24 * 60 * 60 * 1000;

/**
 * funnelStartMs is where a range starts, for a funnel up to now: today is
 * from local midnight (the server widens it to the whole hour).
 */
export function funnelStartMs(range: FunnelRange, nowMs: number): number {
  switch (range) {
    case "today": {
      const d = new Date(nowMs);
      d.setHours(0, 0, 0, 0);
      return d.getTime();
    }
    case "7d":
      return nowMs - 7 * day;
    case "30d":
      return nowMs - 30 * day;
  }
}

/** The funnel's main path, top to bottom, with what a person reads. */
const path: { step: string; label: string; optional?: boolean }[] = [
  { step: "visits", label: "Visits" },
  { step: "launches", label: "Launches" },
  { step: "invitations_sent", label: "Invitations sent", optional: true },
  { step: "invitations_accepted", label: "Invitations accepted", optional: true },
  { step: "forms_submitted", label: "Forms submitted", optional: true },
  { step: "queued", label: "Queued" },
  { step: "accepted", label: "Accepted by an agent" },
  { step: "chats_with_visitor_message", label: "Chats where the visitor wrote" },
];

/** The steps beside the path: outcomes that leave it, and alerts. */
const aside: { step: string; label: string }[] = [
  { step: "invitations_declined", label: "Invitations declined" },
  { step: "invitations_expired", label: "Invitations expired" },
  { step: "alerted", label: "Alerts to agents" },
  { step: "abandoned", label: "Requests abandoned" },
];

/** FunnelRow is one bar of the chart. */
export interface FunnelRow {
  step: string;
  label: string;
  count: number;
  /** Width of the bar, 0–100: the count relative to the largest. */
  widthPct: number;
  /**
   * conversionPct is the count as a percentage of the row above, rounded
   * to a whole number; undefined on the first row or when the row above
   * counts nothing.
   */
  conversionPct?: number;
}

/**
 * funnelRows shapes the funnel for the chart: the main path in order,
 * leaving out the invitation and form steps when they count nothing (a
 * site without invitations or a form), so each conversion is from the
 * step before it that happened.
 */
export function funnelRows(f: Funnel | undefined): FunnelRow[] {
  const counts = stepCounts(f);
  const shown = path.filter((p) => !p.optional || (counts.get(p.step) ?? 0) > 0);
  const max = Math.max(0, ...shown.map((p) => counts.get(p.step) ?? 0));
  return shown.map((p, i) => {
    const count = counts.get(p.step) ?? 0;
    const prev = i > 0 ? (counts.get(shown[i - 1].step) ?? 0) : 0;
    return {
      step: p.step,
      label: p.label,
      count,
      widthPct: max > 0 ? (100 * count) / max : 0,
      conversionPct: i > 0 && prev > 0 ? Math.round((100 * count) / prev) : undefined,
    };
  });
}

/** funnelAside is the counts beside the main path, in a fixed order. */
export function funnelAside(f: Funnel | undefined): { step: string; label: string; count: number }[] {
  const counts = stepCounts(f);
  return aside.map((a) => ({ ...a, count: counts.get(a.step) ?? 0 }));
}

function stepCounts(f: Funnel | undefined): Map<string, number> {
  return new Map((f?.steps ?? []).map((s) => [s.step, Number(s.count)]));
}
