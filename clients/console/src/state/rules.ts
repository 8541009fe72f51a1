import { create } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import type { UpdateSiteRequest } from "../../../gen/proactivechat/v1/admin_service_pb";
import { UpdateSiteRequestSchema } from "../../../gen/proactivechat/v1/admin_service_pb";
import type {
  FrequencyCaps,
  FrequencyCapsSchema,
  Site,
  TriggerConditions,
  TriggerRule,
  TriggerRuleSchema,
} from "../../../gen/proactivechat/v1/site_pb";
import {
  AttributeOperator,
  BusinessHoursCondition,
  ChatHistoryCondition,
  DeviceClass,
  ProactiveChatMode,
  VisitorRecency,
} from "../../../gen/proactivechat/v1/site_pb";
import type { FormFieldDraft } from "./settings";
import { formFieldsFromDraft, formFieldsToDraft } from "./settings";

// The trigger rules editor's model: a site's rules as typed (numbers stay
// strings until checked, lists of globs are one a line), and the
// UpdateSite and PreviewTriggerRule requests built from it. Errors found
// before sending are keyed by the field paths the server uses
// ("proactive_chat.rules[2].conditions.min_scroll_percent"), so that its
// errors and ours land next to the same inputs.

/** CapsDraft is a FrequencyCaps as typed; "" is no cap. */
export interface CapsDraft {
  maxPerVisit: string;
  maxPerDay: string;
  maxEver: string;
  suppressAfterDeclineSeconds: string;
}

export interface VariantDraft {
  id: string;
  name: string;
  inviteText: string;
  weight: string;
}

export interface UtmDraft {
  parameter: string;
  value: string;
}

export interface AttributeConditionDraft {
  key: string;
  operator: AttributeOperator;
  value: string;
}

/** ConditionsDraft is TriggerConditions as typed. */
export interface ConditionsDraft {
  minSecondsOnSite: string;
  minSecondsOnPage: string;
  minPagesViewed: string;
  includePages: string;
  excludePages: string;
  pageTitles: string;
  referrerHosts: string;
  utm: UtmDraft[];
  recency: VisitorRecency;
  chatHistory: ChatHistoryCondition;
  nameKnown: boolean;
  attributes: AttributeConditionDraft[];
  devices: DeviceClass[];
  /** Language tags separated by commas or spaces. */
  languages: string;
  minScrollPercent: string;
  exitIntent: boolean;
  minIdleSeconds: string;
  businessHours: BusinessHoursCondition;
  agentAvailable: boolean;
  maxPredictedWaitSeconds: string;
}

/** RuleDraft is one rule of the editor. */
export interface RuleDraft {
  /** The editor's own key: stable while the rule moves, also before the server gave it an id. */
  key: string;
  /** The server's id ("" for a rule not saved yet, or a copy). */
  id: string;
  name: string;
  enabled: boolean;
  mode: ProactiveChatMode;
  inviteText: string;
  formFields: FormFieldDraft[];
  conditions: ConditionsDraft;
  caps: CapsDraft;
  holdoutPercent: string;
  variants: VariantDraft[];
}

/** RulesDraft is everything the editor saves: the ordered rules and the site-wide caps. */
export interface RulesDraft {
  rules: RuleDraft[];
  caps: CapsDraft;
}

/** The server's bounds, checked here too so that a typo is caught before sending. */
export const MAX_RULES = 50;
export const MAX_HOLDOUT_PERCENT = 50;
export const UTM_PARAMETERS = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];

let keys = 0;
const newKey = () => `r${++keys}`;

const num = (n: number) => (n === 0 ? "" : String(n));
const lines = (s: string) =>
  s
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");

function capsToDraft(c: FrequencyCaps | undefined): CapsDraft {
  return {
    maxPerVisit: num(c?.maxPerVisit ?? 0),
    maxPerDay: num(c?.maxPerDay ?? 0),
    maxEver: num(c?.maxEver ?? 0),
    suppressAfterDeclineSeconds: num(c?.suppressAfterDeclineSeconds ?? 0),
  };
}

function conditionsToDraft(c: TriggerConditions | undefined): ConditionsDraft {
  return {
    minSecondsOnSite: num(c?.minSecondsOnSite ?? 0),
    minSecondsOnPage: num(c?.minSecondsOnPage ?? 0),
    minPagesViewed: num(c?.minPagesViewed ?? 0),
    includePages: (c?.includePages ?? []).join("\n"),
    excludePages: (c?.excludePages ?? []).join("\n"),
    pageTitles: (c?.pageTitles ?? []).join("\n"),
    referrerHosts: (c?.referrerHosts ?? []).join("\n"),
    utm: (c?.utm ?? []).map((u) => ({ parameter: u.parameter, value: u.value })),
    recency: c?.recency ?? VisitorRecency.UNSPECIFIED,
    chatHistory: c?.chatHistory ?? ChatHistoryCondition.UNSPECIFIED,
    nameKnown: c?.nameKnown ?? false,
    attributes: (c?.attributes ?? []).map((a) => ({ key: a.key, operator: a.operator, value: a.value })),
    devices: [...(c?.devices ?? [])],
    languages: (c?.languages ?? []).join(", "),
    minScrollPercent: num(c?.minScrollPercent ?? 0),
    exitIntent: c?.exitIntent ?? false,
    minIdleSeconds: num(c?.minIdleSeconds ?? 0),
    businessHours: c?.businessHours ?? BusinessHoursCondition.UNSPECIFIED,
    agentAvailable: c?.agentAvailable ?? false,
    maxPredictedWaitSeconds: num(c?.maxPredictedWaitSeconds ?? 0),
  };
}

/** ruleToDraft reads a stored rule into the editor. */
export function ruleToDraft(r: TriggerRule): RuleDraft {
  return {
    key: newKey(),
    id: r.id,
    name: r.name,
    enabled: r.enabled,
    mode: r.mode,
    inviteText: r.inviteText,
    formFields: formFieldsToDraft(r.formFields),
    conditions: conditionsToDraft(r.conditions),
    caps: capsToDraft(r.caps),
    holdoutPercent: num(r.holdoutPercent),
    variants: r.variants.map((v) => ({ id: v.id, name: v.name, inviteText: v.inviteText, weight: String(v.weight) })),
  };
}

/** rulesDraftFromSite reads a site's rules and caps into the editor. */
export function rulesDraftFromSite(site: Site): RulesDraft {
  return { rules: (site.proactiveChat?.rules ?? []).map(ruleToDraft), caps: capsToDraft(site.proactiveChat?.caps) };
}

/** emptyRule is a new rule: on, with invite, no conditions. */
export function emptyRule(name: string): RuleDraft {
  return ruleToDraft({
    id: "",
    name,
    enabled: true,
    mode: ProactiveChatMode.WITH_INVITE,
    inviteText: "",
    formFields: [],
    holdoutPercent: 0,
    variants: [],
  } as unknown as TriggerRule);
}

/**
 * duplicateRule copies a rule as a new one (its copy gets its own id and
 * funnel from the server): named "… (copy)", and off, so that two rules
 * never launch on the same visitors by surprise.
 */
export function duplicateRule(r: RuleDraft, taken: string[]): RuleDraft {
  let name = `${r.name} (copy)`;
  for (let n = 2; taken.includes(name); n++) name = `${r.name} (copy ${n})`;
  return {
    ...structuredClone(r),
    key: newKey(),
    id: "",
    name,
    enabled: false,
    variants: r.variants.map((v) => ({ ...v, id: "" })),
  };
}

/** moveRule moves the rule at i by `by` places (a rule's place is its priority). */
export function moveRule(rules: RuleDraft[], i: number, by: number): RuleDraft[] {
  const j = i + by;
  if (j < 0 || j >= rules.length) return rules;
  const out = [...rules];
  const [r] = out.splice(i, 1);
  out.splice(j, 0, r);
  return out;
}

const UINT32_MAX = 4294967295;

/** Checker collects errors by field path while a draft is read. */
class Checker {
  readonly errors: Record<string, string> = {};
  /** uint reads a whole number ("" is 0) within [min, max] when not 0. */
  uint(text: string, path: string, max = UINT32_MAX, min = 0): number {
    const t = text.trim();
    if (t === "") return 0;
    if (!/^\d+$/.test(t) || Number(t) > UINT32_MAX) {
      this.errors[path] = "must be a whole number, 0 or more";
      return 0;
    }
    const n = Number(t);
    if (n !== 0 && (n < min || n > max)) this.errors[path] = `must be from ${min} to ${max}`;
    return n;
  }
}

function capsFromDraft(c: CapsDraft, path: string, ck: Checker): MessageInitShape<typeof FrequencyCapsSchema> {
  return {
    maxPerVisit: ck.uint(c.maxPerVisit, `${path}.max_per_visit`),
    maxPerDay: ck.uint(c.maxPerDay, `${path}.max_per_day`),
    maxEver: ck.uint(c.maxEver, `${path}.max_ever`),
    suppressAfterDeclineSeconds: ck.uint(c.suppressAfterDeclineSeconds, `${path}.suppress_after_decline_seconds`),
  };
}

function ruleFromDraft(r: RuleDraft, path: string, ck: Checker): MessageInitShape<typeof TriggerRuleSchema> {
  const c = r.conditions;
  const cp = `${path}.conditions`;
  return {
    id: r.id,
    name: r.name.trim(),
    enabled: r.enabled,
    mode: r.mode,
    inviteText: r.inviteText,
    formFields: formFieldsFromDraft(r.formFields, `${path}.form_fields`, ck.errors),
    conditions: {
      minSecondsOnSite: ck.uint(c.minSecondsOnSite, `${cp}.min_seconds_on_site`),
      minSecondsOnPage: ck.uint(c.minSecondsOnPage, `${cp}.min_seconds_on_page`),
      minPagesViewed: ck.uint(c.minPagesViewed, `${cp}.min_pages_viewed`),
      includePages: lines(c.includePages),
      excludePages: lines(c.excludePages),
      pageTitles: lines(c.pageTitles),
      referrerHosts: lines(c.referrerHosts),
      utm: c.utm.map((u) => ({ parameter: u.parameter, value: u.value.trim() })),
      recency: c.recency,
      chatHistory: c.chatHistory,
      nameKnown: c.nameKnown,
      attributes: c.attributes.map((a) => ({
        key: a.key.trim(),
        operator: a.operator,
        value: a.operator === AttributeOperator.PRESENT ? "" : a.value.trim(),
      })),
      devices: [...c.devices].sort(),
      languages: c.languages
        .split(/[\s,]+/)
        .map((l) => l.trim())
        .filter(Boolean),
      minScrollPercent: ck.uint(c.minScrollPercent, `${cp}.min_scroll_percent`, 100, 1),
      exitIntent: c.exitIntent,
      minIdleSeconds: ck.uint(c.minIdleSeconds, `${cp}.min_idle_seconds`),
      businessHours: c.businessHours,
      agentAvailable: c.agentAvailable,
      maxPredictedWaitSeconds: ck.uint(c.maxPredictedWaitSeconds, `${cp}.max_predicted_wait_seconds`),
    },
    caps: capsFromDraft(r.caps, `${path}.caps`, ck),
    holdoutPercent: ck.uint(r.holdoutPercent, `${path}.holdout_percent`, MAX_HOLDOUT_PERCENT),
    variants: r.variants.map((v, i) => {
      const weight = ck.uint(v.weight, `${path}.variants[${i}].weight`, 100, 1);
      if (v.weight.trim() === "" || weight === 0) ck.errors[`${path}.variants[${i}].weight`] ??= "must be from 1 to 100";
      return { id: v.id, name: v.name.trim(), inviteText: v.inviteText, weight };
    }),
  };
}

/** previewRule is one rule as PreviewTriggerRule takes it, with the errors found before sending (paths under "rule"). */
export function previewRule(r: RuleDraft): { rule: MessageInitShape<typeof TriggerRuleSchema>; errors: Record<string, string> } {
  const ck = new Checker();
  const rule = ruleFromDraft(r, "rule", ck);
  return { rule, errors: ck.errors };
}

/** comparable is a draft without the editor's keys, to tell what changed. */
function comparable(x: RuleDraft[] | CapsDraft): string {
  return JSON.stringify(x, (k, v) => (k === "key" ? undefined : typeof v === "string" ? v.trim() : v));
}

export interface RulesUpdateBuild {
  /** undefined when there are errors or nothing changed. */
  request?: UpdateSiteRequest;
  errors: Record<string, string>;
  /** The update_mask paths: what changed. */
  paths: string[];
}

/**
 * buildRulesUpdate turns the edited rules into UpdateSite naming only
 * proactive_chat.rules and/or proactive_chat.caps: the rules are replaced
 * as a list (their order is their priority; ids keep each rule's funnel),
 * and no other setting of the site is touched.
 */
export function buildRulesUpdate(siteId: string, original: RulesDraft, draft: RulesDraft): RulesUpdateBuild {
  const ck = new Checker();
  const rules = draft.rules.map((r, i) => ruleFromDraft(r, `proactive_chat.rules[${i}]`, ck));
  const caps = capsFromDraft(draft.caps, "proactive_chat.caps", ck);
  if (draft.rules.length > MAX_RULES) ck.errors["proactive_chat.rules"] = `at most ${MAX_RULES} rules`;
  const names = new Map<string, number>();
  draft.rules.forEach((r, i) => {
    const n = r.name.trim();
    if (n === "") ck.errors[`proactive_chat.rules[${i}].name`] = "is required";
    else if (names.has(n)) ck.errors[`proactive_chat.rules[${i}].name`] = `is the name of rule ${names.get(n)! + 1} too`;
    else names.set(n, i);
  });
  const paths: string[] = [];
  if (comparable(draft.rules) !== comparable(original.rules)) paths.push("proactive_chat.rules");
  if (comparable(draft.caps) !== comparable(original.caps)) paths.push("proactive_chat.caps");
  if (Object.keys(ck.errors).length > 0 || paths.length === 0) return { errors: ck.errors, paths };
  return {
    errors: ck.errors,
    paths,
    request: create(UpdateSiteRequestSchema, {
      site: { id: siteId, proactiveChat: { rules, caps } },
      updateMask: create(FieldMaskSchema, { paths }),
    }),
  };
}

/** ruleIndexOf is the rule a field path is about ("proactive_chat.rules[2].…" → 2), if any. */
export function ruleIndexOf(path: string): number | undefined {
  const m = /^proactive_chat\.rules\[(\d+)\]/.exec(path);
  return m ? Number(m[1]) : undefined;
}

// The labels of the editor's choices.
export const recencyLabels: [VisitorRecency, string][] = [
  [VisitorRecency.UNSPECIFIED, "New or returning"],
  [VisitorRecency.NEW, "New visitors (first visit)"],
  [VisitorRecency.RETURNING, "Returning visitors"],
];
export const chatHistoryLabels: [ChatHistoryCondition, string][] = [
  [ChatHistoryCondition.UNSPECIFIED, "Whether or not they chatted"],
  [ChatHistoryCondition.NEVER_CHATTED, "Never chatted before"],
  [ChatHistoryCondition.CHATTED_BEFORE, "Chatted before"],
];
export const businessHoursLabels: [BusinessHoursCondition, string][] = [
  [BusinessHoursCondition.UNSPECIFIED, "Any time"],
  [BusinessHoursCondition.OPEN, "Only during business hours"],
  [BusinessHoursCondition.CLOSED, "Only outside business hours"],
];
export const operatorLabels: [AttributeOperator, string][] = [
  [AttributeOperator.PRESENT, "is set"],
  [AttributeOperator.EQUALS, "equals"],
  [AttributeOperator.NOT_EQUALS, "does not equal"],
  [AttributeOperator.CONTAINS, "contains"],
  [AttributeOperator.GREATER_THAN, "is greater than"],
  [AttributeOperator.LESS_THAN, "is less than"],
];
export const deviceLabels: [DeviceClass, string][] = [
  [DeviceClass.DESKTOP, "Desktop"],
  [DeviceClass.TABLET, "Tablet"],
  [DeviceClass.PHONE, "Phone"],
];
