import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import type { UpdateSiteRequest } from "../../../gen/proactivechat/v1/admin_service_pb";
import { UpdateSiteRequestSchema } from "../../../gen/proactivechat/v1/admin_service_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  BusinessHoursSchema,
  FormField,
  FormFieldSchema,
  HolidaySchema,
  ProactiveChatSettingsSchema,
  Site,
  WeeklyIntervalSchema,
} from "../../../gen/proactivechat/v1/site_pb";
import { DayOfWeek, FormFieldType, ProactiveChatMode } from "../../../gen/proactivechat/v1/site_pb";

/** FormFieldDraft is one row of the form fields editor. */
export interface FormFieldDraft {
  key: string;
  label: string;
  type: FormFieldType;
  required: boolean;
  /** Text of the max length input; "" or "0" means the type's default. */
  maxLength: string;
}

/**
 * SettingsDraft is the site settings form as typed: numbers stay strings
 * until they are checked, lists of origins are one per line. What each
 * rule does (mode, invitation, form, conditions) is the trigger rules
 * editor's (state/rules.ts); these are the site's own settings.
 */
export interface SettingsDraft {
  name: string;
  allowedOrigins: string;
  enabled: boolean;
  inviteTimeoutSeconds: string;
  reinviteCooldownSeconds: string;
  alertTimeoutSeconds: string;
  queueHoldSeconds: string;
  inactivityTimeoutSeconds: string;
  inactivityWarningSeconds: string;
  /** Retention periods as typed: days ("30"), or with a unit ("12h", "30d"); "" is the server's default. */
  visitorRetention: string;
  chatRetention: string;
  /** The visitor launcher ("Chat with us" button): on, and its label ("" is the default). */
  launcherEnabled: boolean;
  launcherLabel: string;
  /** Business hours: the IANA zone, Monday to Sunday each "09:00-12:00, 13:00-17:00" ("" closed), holidays one a line. */
  timeZone: string;
  days: string[];
  holidays: string;
  /** Seconds of estimated wait after which a queued visitor is offered to leave a message ("" never). */
  offlineMaxWait: string;
}

/** The days of the business hours editor, Monday first as the server counts them. */
export const dayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/** daysFromSite shows a site's intervals of each day as "09:00-12:00, 13:00-17:00". */
function daysFromSite(site: Site): string[] {
  const days: string[][] = dayNames.map(() => []);
  for (const iv of site.businessHours?.weekly ?? []) {
    if (iv.dayOfWeek >= DayOfWeek.MONDAY && iv.dayOfWeek <= DayOfWeek.SUNDAY) days[iv.dayOfWeek - 1].push(`${iv.open}-${iv.close}`);
  }
  return days.map((d) => d.join(", "));
}

/** holidaysFromSite shows holidays one a line: "2026-12-24", "2026-12-24..2026-12-26 Christmas". */
function holidaysFromSite(site: Site): string {
  return (site.businessHours?.holidays ?? [])
    .map((h) => [h.endDate ? `${h.startDate}..${h.endDate}` : h.startDate, h.name].filter(Boolean).join(" "))
    .join("\n");
}

const hhmm = /^([01]\d|2[0-3]):[0-5]\d$/;

/** parseBusinessHours reads the editor; undefined when it is empty (the site is always open). */
export function parseBusinessHours(
  draft: Pick<SettingsDraft, "timeZone" | "days" | "holidays">,
  errors: Record<string, string>,
): MessageInitShape<typeof BusinessHoursSchema> | undefined {
  const weekly: MessageInitShape<typeof WeeklyIntervalSchema>[] = [];
  draft.days.forEach((text, i) => {
    for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
      const m = /^(\d\d:\d\d)\s*[-–]\s*(\d\d:\d\d)$/.exec(part);
      if (!m || !hhmm.test(m[1]) || !(hhmm.test(m[2]) || m[2] === "24:00") || m[2] <= m[1]) {
        errors[`business_hours.days[${i}]`] = `"${part}" is not an interval such as 09:00-17:00 (24:00 ends the day)`;
        continue;
      }
      weekly.push({ dayOfWeek: (i + 1) as DayOfWeek, open: m[1], close: m[2] });
    }
  });
  const holidays: MessageInitShape<typeof HolidaySchema>[] = [];
  for (const line of lines(draft.holidays)) {
    const m = /^(\d{4}-\d\d-\d\d)(?:\s*\.\.\s*(\d{4}-\d\d-\d\d))?(?:\s+(.*))?$/.exec(line);
    if (!m) {
      errors["business_hours.holidays"] = `"${line}" is not a date such as 2026-12-24 or a range 2026-12-24..2026-12-26`;
      continue;
    }
    holidays.push({ startDate: m[1], endDate: m[2] ?? "", name: m[3]?.trim() ?? "" });
  }
  const timeZone = draft.timeZone.trim();
  const typed = draft.days.some((d) => d.trim() !== "") || lines(draft.holidays).length > 0;
  if (!timeZone && !typed) return undefined;
  if (!timeZone) errors["business_hours.time_zone"] = "is required with business hours, e.g. Europe/Berlin";
  return { timeZone, weekly, holidays };
}

/** The retention periods: draft key, field path, label, hint. 0 means the server's default. */
export const retentionFields = [
  [
    "visitorRetention",
    "retention.visitor_seconds",
    "Delete visitors who never chatted, after (days since last seen)",
    "With their session, invitations and requests; never while they are on the site, queued or invited. Empty: the server's default (30 days unless -retain-visitors says otherwise).",
  ],
  [
    "chatRetention",
    "retention.chat_seconds",
    "Delete ended chats, after (days since they ended)",
    "With their messages and form data; their visitor goes too unless seen since. Empty: the server's default (kept forever unless -retain-chats says otherwise).",
  ],
] as const;

const DAY = 86400;
const HOUR = 3600;
/** The server's bounds of a retention period, in seconds. */
export const MIN_RETENTION = HOUR;
export const MAX_RETENTION = 3650 * DAY;

/** retentionText shows seconds as days, or hours or seconds where they are not whole days. */
export function retentionText(seconds: number): string {
  if (seconds === 0) return "";
  if (seconds % DAY === 0) return String(seconds / DAY);
  if (seconds % HOUR === 0) return `${seconds / HOUR}h`;
  return `${seconds}s`;
}

/** parseRetention reads days ("30" or "30d"), hours ("12h") or seconds ("3600s"); "" counts as 0. */
function parseRetention(text: string, field: string, errors: Record<string, string>): number {
  const t = text.trim();
  if (t === "") return 0;
  const m = /^(\d+)\s*([dhs]?)$/.exec(t);
  const seconds = m ? Number(m[1]) * ({ "": DAY, d: DAY, h: HOUR, s: 1 } as const)[m[2] as "" | "d" | "h" | "s"] : NaN;
  if (!Number.isSafeInteger(seconds)) {
    errors[field] = "must be a number of days, such as 30 (or hours: 12h)";
    return 0;
  }
  if (seconds !== 0 && (seconds < MIN_RETENTION || seconds > MAX_RETENTION)) {
    errors[field] = "must be from an hour (1h) to ten years (3650 days), or empty for the server's default";
    return 0;
  }
  return seconds;
}

/** The site's seconds settings: 0 means the server's default. */
export const timeoutFields = [
  ["inviteTimeoutSeconds", "invite_timeout_seconds", "Invitation expires after (s)", "60"],
  ["reinviteCooldownSeconds", "reinvite_cooldown_seconds", "Re-invite after (s)", "never"],
  ["alertTimeoutSeconds", "alert_timeout_seconds", "Agent must accept within (s)", "30"],
  ["queueHoldSeconds", "queue_hold_seconds", "Hold a queued visitor's place for (s)", "60"],
  ["inactivityTimeoutSeconds", "inactivity_timeout_seconds", "End an inactive chat after (s)", "600"],
  ["inactivityWarningSeconds", "inactivity_warning_seconds", "Warn before ending it (s)", "120"],
] as const;

const lines = (s: string) =>
  s
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");

const secs = (n: number) => (n === 0 ? "" : String(n));

export function draftFromSite(site: Site): SettingsDraft {
  const pc = site.proactiveChat;
  return {
    name: site.name,
    allowedOrigins: site.allowedOrigins.join("\n"),
    enabled: pc?.enabled ?? false,
    inviteTimeoutSeconds: secs(pc?.inviteTimeoutSeconds ?? 0),
    reinviteCooldownSeconds: secs(pc?.reinviteCooldownSeconds ?? 0),
    alertTimeoutSeconds: secs(pc?.alertTimeoutSeconds ?? 0),
    queueHoldSeconds: secs(pc?.queueHoldSeconds ?? 0),
    inactivityTimeoutSeconds: secs(pc?.inactivityTimeoutSeconds ?? 0),
    inactivityWarningSeconds: secs(pc?.inactivityWarningSeconds ?? 0),
    visitorRetention: retentionText(site.retention?.visitorSeconds ?? 0),
    chatRetention: retentionText(site.retention?.chatSeconds ?? 0),
    launcherEnabled: site.visitorLauncher?.enabled ?? false,
    launcherLabel: site.visitorLauncher?.label ?? "",
    timeZone: site.businessHours?.timeZone ?? "",
    days: daysFromSite(site),
    holidays: holidaysFromSite(site),
    offlineMaxWait: secs(site.offlineMessage?.maxWaitSeconds ?? 0),
  };
}

/** formFieldsToDraft reads a form (a rule's) into the form fields editor. */
export function formFieldsToDraft(fields: readonly FormField[]): FormFieldDraft[] {
  return fields.map((f) => ({ key: f.key, label: f.label, type: f.type, required: f.required, maxLength: secs(f.maxLength) }));
}

/** formFieldsFromDraft reads the form fields editor; errors are keyed under path ("…form_fields[1].max_length"). */
export function formFieldsFromDraft(
  fields: FormFieldDraft[],
  path: string,
  errors: Record<string, string>,
): MessageInitShape<typeof FormFieldSchema>[] {
  return fields.map((f, i) => ({
    key: f.key.trim(),
    label: f.label.trim(),
    type: f.type,
    required: f.required,
    maxLength: parseUint(f.maxLength, `${path}[${i}].max_length`, errors),
  }));
}

export function emptyFormField(): FormFieldDraft {
  return { key: "", label: "", type: FormFieldType.TEXT, required: false, maxLength: "" };
}

const UINT32_MAX = 4294967295;

/** parseUint reads a whole number of seconds; "" counts as 0. */
function parseUint(text: string, field: string, errors: Record<string, string>): number {
  const t = text.trim();
  if (t === "") return 0;
  if (!/^\d+$/.test(t) || Number(t) > UINT32_MAX) {
    errors[field] = "must be a whole number, 0 or more";
    return 0;
  }
  return Number(t);
}

export interface UpdateSiteBuild {
  /** undefined when there are errors or nothing changed. */
  request?: UpdateSiteRequest;
  /** Errors found before sending, by the same field paths the server uses. */
  errors: Record<string, string>;
  /** The update_mask paths (also when there are errors). */
  paths: string[];
}

/**
 * buildUpdateSiteRequest turns an edited form into UpdateSite with an
 * update_mask naming exactly what changed since `original`, so two admins
 * editing different settings do not undo each other's work — and never the
 * whole proactive_chat message, which would replace the trigger rules too.
 */
export function buildUpdateSiteRequest(siteId: string, original: SettingsDraft, draft: SettingsDraft): UpdateSiteBuild {
  const errors: Record<string, string> = {};
  const timeouts: Record<string, number> = {};
  for (const [k, path] of timeoutFields) timeouts[k] = parseUint(draft[k], `proactive_chat.${path}`, errors);
  const visitorSeconds = parseRetention(draft.visitorRetention, "retention.visitor_seconds", errors);
  const chatSeconds = parseRetention(draft.chatRetention, "retention.chat_seconds", errors);
  const businessHours = parseBusinessHours(draft, errors);
  const maxWaitSeconds = parseUint(draft.offlineMaxWait, "offline_message.max_wait_seconds", errors);

  const settings: MessageInitShape<typeof ProactiveChatSettingsSchema> = { enabled: draft.enabled, ...timeouts };

  const paths: string[] = [];
  if (draft.name.trim() !== original.name.trim()) paths.push("name");
  if (lines(draft.allowedOrigins).join("\n") !== lines(original.allowedOrigins).join("\n")) paths.push("allowed_origins");
  if (draft.enabled !== original.enabled) paths.push("proactive_chat.enabled");
  for (const [k, path] of timeoutFields) if (draft[k].trim() !== original[k].trim()) paths.push(`proactive_chat.${path}`);
  // Each period is its own path: saving one never resets the other.
  for (const [k, path] of retentionFields) if (draft[k].trim() !== original[k].trim()) paths.push(path);
  if (draft.launcherEnabled !== original.launcherEnabled) paths.push("visitor_launcher.enabled");
  if (draft.launcherLabel.trim() !== original.launcherLabel.trim()) paths.push("visitor_launcher.label");
  // The hours are replaced whole: the schedule and holidays go together.
  if (
    draft.timeZone.trim() !== original.timeZone.trim() ||
    draft.days.some((d, i) => d.trim() !== (original.days[i] ?? "").trim()) ||
    lines(draft.holidays).join("\n") !== lines(original.holidays).join("\n")
  )
    paths.push("business_hours");
  if (draft.offlineMaxWait.trim() !== original.offlineMaxWait.trim()) paths.push("offline_message.max_wait_seconds");
  if (Object.keys(errors).length > 0 || paths.length === 0) return { errors, paths };
  return {
    errors,
    paths,
    request: create(UpdateSiteRequestSchema, {
      site: {
        id: siteId,
        name: draft.name.trim(),
        allowedOrigins: lines(draft.allowedOrigins),
        proactiveChat: settings,
        retention: { visitorSeconds, chatSeconds },
        visitorLauncher: { enabled: draft.launcherEnabled, label: draft.launcherLabel.trim() },
        businessHours,
        offlineMessage: { maxWaitSeconds },
      },
      updateMask: create(FieldMaskSchema, { paths }),
    }),
  };
}

/** The labels of the select boxes. */
export const modeLabels: [ProactiveChatMode, string][] = [
  [ProactiveChatMode.WITH_INVITE, "With invite (invite → form → queue)"],
  [ProactiveChatMode.WITHOUT_INVITE, "Without invite (alert the agent after N seconds)"],
];

export const fieldTypeLabels: [FormFieldType, string][] = [
  [FormFieldType.TEXT, "Text"],
  [FormFieldType.TEXTAREA, "Several lines"],
  [FormFieldType.EMAIL, "E-mail"],
  [FormFieldType.PHONE, "Phone"],
];
