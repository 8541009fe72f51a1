import type { RuleFunnel, TriggerRuleReport } from "../../../gen/proactivechat/v1/targeting_pb";
import type { TriggerRule } from "../../../gen/proactivechat/v1/site_pb";

/** The steps of a rule's funnel, in order, with what a person reads. */
export const ruleSteps = [
  { step: "matched", label: "Matched" },
  { step: "heldOut", label: "Held out" },
  { step: "invited", label: "Invited" },
  { step: "accepted", label: "Accepted" },
  { step: "formsSubmitted", label: "Form sent" },
  { step: "queued", label: "Queued" },
  { step: "chatted", label: "Chatted" },
  { step: "rated", label: "Rated" },
] as const;

export type RuleStep = (typeof ruleSteps)[number]["step"];

/** RuleReportRow is one row of the report: a rule, or one of its variants (a sub-row). */
export interface RuleReportRow {
  ruleId: string;
  variantId: string;
  label: string;
  counts: Record<RuleStep, number>;
  heldOutChatted: number;
  /** Each step's bar, 0–100: its count relative to the row's matched. */
  widthPct: Record<RuleStep, number>;
  /** Chats per approached visitor (matched − held out), in percent; undefined when none was approached. */
  chatRatePct?: number;
  /** Chats per held-out visitor (the control group), in percent; undefined when none was held out. */
  controlChatRatePct?: number;
}

const pct = (n: number, of: number) => (of > 0 ? Math.round((1000 * n) / of) / 10 : undefined);

/**
 * ruleReportRows shapes GetTriggerRuleReport for the chart: the site's
 * rules in their order (a rule without counts shows zeros), each followed
 * by its variants, then rules deleted since that still counted in the
 * range. Names come from the rules as saved; a variant's row carries the
 * counts of the visitors shown that variant, and the control group's rate
 * is the rule's alone (visitors held out never see a variant).
 */
export function ruleReportRows(report: TriggerRuleReport | undefined, rules: readonly TriggerRule[]): RuleReportRow[] {
  const byKey = new Map<string, RuleFunnel>();
  for (const f of report?.rules ?? []) byKey.set(`${f.ruleId}/${f.variantId}`, f);
  const ids = [...rules.map((r) => r.id), ...(report?.rules ?? []).map((f) => f.ruleId)].filter((id, i, all) => id && all.indexOf(id) === i);
  const out: RuleReportRow[] = [];
  for (const id of ids) {
    const rule = rules.find((r) => r.id === id);
    out.push(row(id, "", rule ? rule.name : `Deleted rule (${id})`, byKey.get(`${id}/`)));
    const variantIds = [
      ...(rule?.variants ?? []).map((v) => v.id),
      ...(report?.rules ?? []).filter((f) => f.ruleId === id && f.variantId).map((f) => f.variantId),
    ].filter((v, i, all) => v && all.indexOf(v) === i);
    for (const v of variantIds) {
      const name = rule?.variants.find((x) => x.id === v)?.name;
      out.push(row(id, v, name ? `Variant ${name}` : `Deleted variant (${v})`, byKey.get(`${id}/${v}`)));
    }
  }
  return out;
}

function row(ruleId: string, variantId: string, label: string, f: RuleFunnel | undefined): RuleReportRow {
  const counts = Object.fromEntries(ruleSteps.map((s) => [s.step, Number(f?.[s.step] ?? 0n)])) as Record<RuleStep, number>;
  const heldOutChatted = Number(f?.heldOutChatted ?? 0n);
  const top = Math.max(counts.matched, ...ruleSteps.map((s) => counts[s.step]));
  const widthPct = Object.fromEntries(ruleSteps.map((s) => [s.step, top > 0 ? (100 * counts[s.step]) / top : 0])) as Record<
    RuleStep,
    number
  >;
  return {
    ruleId,
    variantId,
    label,
    counts,
    heldOutChatted,
    widthPct,
    chatRatePct: pct(counts.chatted, counts.matched - counts.heldOut),
    controlChatRatePct: variantId ? undefined : pct(heldOutChatted, counts.heldOut),
  };
}
