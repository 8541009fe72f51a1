import { createConnectQueryKey, useMutation, useQuery, useTransport } from "@connectrpc/connect-query";
import { keepPreviousData, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import type { FormEvent, ReactNode } from "react";
import { AdminService } from "../../../gen/proactivechat/v1/admin_service_pb";
import type { Site } from "../../../gen/proactivechat/v1/site_pb";
import { AttributeOperator, ProactiveChatMode } from "../../../gen/proactivechat/v1/site_pb";
import { useAuthState } from "../hooks";
import { visitorName } from "../labels";
import { errorText, violationsByField } from "../lib/errors";
import { durMs, formatDuration } from "../lib/time";
import type { CapsDraft, ConditionsDraft, RuleDraft, RulesDraft } from "../state/rules";
import {
  buildRulesUpdate,
  businessHoursLabels,
  chatHistoryLabels,
  deviceLabels,
  duplicateRule,
  emptyRule,
  MAX_RULES,
  moveRule,
  operatorLabels,
  previewRule,
  recencyLabels,
  ruleIndexOf,
  rulesDraftFromSite,
  UTM_PARAMETERS,
} from "../state/rules";
import { modeLabels } from "../state/settings";
import { Field, FieldError, FormFieldsEditor, SaveActions } from "./fields";

type Err = (path: string) => string | undefined;

/**
 * placed are the field paths the editor shows next to an input; the error
 * summary lists the others (and says to correct the marked ones).
 */
const placed = [
  /^proactive_chat\.caps\.(max_per_visit|max_per_day|max_ever|suppress_after_decline_seconds)$/,
  /^proactive_chat\.rules\[\d+\]\.(name|mode|invite_text|holdout_percent|variants|form_fields)$/,
  /^proactive_chat\.rules\[\d+\]\.caps\.(max_per_visit|max_per_day|max_ever|suppress_after_decline_seconds)$/,
  /^proactive_chat\.rules\[\d+\]\.variants\[\d+\](\.(name|invite_text|weight))?$/,
  /^proactive_chat\.rules\[\d+\]\.form_fields\[\d+\]\.(key|label|type|max_length)$/,
  /^proactive_chat\.rules\[\d+\]\.conditions\.[a-z_]+(\[\d+\](\.(parameter|value|key|operator))?)?$/,
];

/**
 * TriggerRules edits a site's trigger rules — in priority order, each with
 * its mode, invitation (and A/B variants), form, conditions, caps and
 * control group — and the caps across them, and saves them with UpdateSite
 * naming only proactive_chat.rules and proactive_chat.caps (the site's
 * other settings stay as they are). The server's field errors
 * ("proactive_chat.rules[2].conditions.min_scroll_percent") appear next to
 * their inputs, opening the rule they are in. A rule being edited can be
 * previewed against the visitors online now, unsaved.
 */
export function TriggerRules({ site }: { site: Site }) {
  const transport = useTransport();
  const queryClient = useQueryClient();
  const { adminKey } = useAuthState();
  const [original, setOriginal] = useState<RulesDraft>(() => rulesDraftFromSite(site));
  const [draft, setDraft] = useState<RulesDraft>(original);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [open, setOpen] = useState<Set<string>>(() => new Set());
  const [saved, setSaved] = useState(false);
  const [announce, setAnnounce] = useState("");
  /** The element to give focus back to after the list changed under it (the visitor's own action). */
  const [focusId, setFocusId] = useState<string>();
  useEffect(() => {
    if (!focusId) return;
    const el = document.getElementById(focusId) as HTMLButtonElement | null;
    if (el && !el.disabled) el.focus();
    setFocusId(undefined);
  }, [focusId]);

  const update = useMutation(AdminService.method.updateSite, {
    onSuccess: (res) => {
      setSaved(true);
      setErrors({});
      if (res.site) {
        const fresh = rulesDraftFromSite(res.site);
        setOriginal(fresh);
        setDraft(fresh);
        setOpen((o) => new Set(fresh.rules.filter((_, i) => o.has(draft.rules[i]?.key)).map((r) => r.key)));
      }
      const key = createConnectQueryKey({ schema: AdminService.method.listSites, transport, input: {}, cardinality: "finite" });
      queryClient.setQueryData(key, (old) =>
        old && res.site ? { ...old, sites: old.sites.map((s) => (s.id === res.site!.id ? res.site! : s)) } : old,
      );
      void queryClient.invalidateQueries({ queryKey: key });
    },
    onError: (err) => showErrors(violationsByField(err)),
  });
  const built = buildRulesUpdate(site.id, original, draft);

  /** showErrors shows errors by path and opens the rules they are in. */
  const showErrors = (errs: Record<string, string>) => {
    setErrors(errs);
    const withErrors = Object.keys(errs)
      .map(ruleIndexOf)
      .filter((i): i is number => i !== undefined)
      .map((i) => draft.rules[i]?.key)
      .filter(Boolean);
    if (withErrors.length) setOpen((o) => new Set([...o, ...withErrors]));
  };
  const save = (e: FormEvent) => {
    e.preventDefault();
    showErrors(built.errors);
    if (built.request) update.mutate(built.request);
  };

  const edit = (next: RulesDraft) => {
    setSaved(false);
    setDraft(next);
  };
  // A change of order or number moves the indices errors are named by: they go.
  const restructure = (rules: RuleDraft[]) => {
    setErrors({});
    update.reset();
    edit({ ...draft, rules });
  };
  const setRule = (i: number, r: RuleDraft) => edit({ ...draft, rules: draft.rules.map((x, j) => (j === i ? r : x)) });
  const toggle = (key: string) =>
    setOpen((o) => {
      const n = new Set(o);
      if (!n.delete(key)) n.add(key);
      return n;
    });
  const move = (i: number, by: number) => {
    const r = draft.rules[i];
    restructure(moveRule(draft.rules, i, by));
    const to = i + by;
    setAnnounce(`Rule ${r.name || "without a name"} moved to place ${to + 1} of ${draft.rules.length}.`);
    // Focus stays with the moved rule: on the same button, or the other one at an end.
    const atEnd = to === 0 || to === draft.rules.length - 1;
    setFocusId(`rule-${r.key}-${atEnd ? (by < 0 ? "down" : "up") : by < 0 ? "up" : "down"}`);
  };
  const add = () => {
    const taken = draft.rules.map((r) => r.name);
    let n = draft.rules.length + 1;
    while (taken.includes(`Rule ${n}`)) n++;
    const r = emptyRule(`Rule ${n}`);
    restructure([...draft.rules, r]);
    setOpen((o) => new Set([...o, r.key]));
    setAnnounce(`Rule ${n} added at place ${draft.rules.length + 1}.`);
    setFocusId(`rule-${r.key}-name`);
  };
  const duplicate = (i: number) => {
    const copy = duplicateRule(
      draft.rules[i],
      draft.rules.map((r) => r.name),
    );
    restructure([...draft.rules.slice(0, i + 1), copy, ...draft.rules.slice(i + 1)]);
    setOpen((o) => new Set([...o, copy.key]));
    setAnnounce(`${copy.name} added at place ${i + 2}, turned off.`);
    setFocusId(`rule-${copy.key}-name`);
  };
  const remove = (i: number) => {
    const r = draft.rules[i];
    const next = draft.rules[i + 1] ?? draft.rules[i - 1];
    restructure(draft.rules.filter((_, j) => j !== i));
    setAnnounce(`Rule ${r.name || "without a name"} deleted (saving makes it final).`);
    setFocusId(next ? `rule-${next.key}-toggle` : "rules-add");
  };

  const err: Err = (path) => errors[path];
  const unplaced = Object.entries(errors).filter(([k]) => !placed.some((re) => re.test(k)));
  const count = Object.keys(errors).length;
  return (
    <form onSubmit={save} className="settings rules-editor" data-testid="trigger-rules" noValidate aria-labelledby="rules-title">
      <h3 id="rules-title">Trigger rules</h3>
      <p className="muted small">
        Whom to approach, when and how. The server checks the rules in this order for each visitor online; the first
        enabled rule whose conditions all hold (within its caps) launches — an invitation, or an alert to an agent. At most
        one launch a visit.
      </p>
      {(update.isError || count > 0) && (
        <div className="error-text" role="alert" data-testid="rules-error">
          {count > 0 ? "Please correct the marked settings." : errorText(update.error)}
          {unplaced.length > 0 && (
            <ul>
              {unplaced.map(([k, v]) => (
                <li key={k}>
                  {k}: {v}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {saved && !update.isPending && (
        <p className="ok-text" role="status" data-testid="rules-saved">
          Rules saved.
        </p>
      )}

      <CapsFields
        legend="Caps across all rules, per visitor"
        caps={draft.caps}
        onChange={(caps) => edit({ ...draft, caps })}
        path="proactive_chat.caps"
        idPrefix="site-caps"
        err={err}
      />

      {draft.rules.length === 0 ? (
        <p className="muted small" data-testid="no-rules">
          No rules: nobody is approached. Add one.
        </p>
      ) : (
        <ol className="rule-list" aria-label="Rules, in priority order">
          {draft.rules.map((r, i) => (
            <li key={r.key}>
              <RuleCard
                siteId={site.id}
                rule={r}
                index={i}
                count={draft.rules.length}
                open={open.has(r.key)}
                err={err}
                errs={errors}
                hasErrors={Object.keys(errors).some((k) => ruleIndexOf(k) === i)}
                onChange={(next) => setRule(i, next)}
                onToggle={() => toggle(r.key)}
                onMove={(by) => move(i, by)}
                onDuplicate={() => duplicate(i)}
                onRemove={() => remove(i)}
              />
            </li>
          ))}
        </ol>
      )}
      <FieldError id="rules-list-err" msg={errors["proactive_chat.rules"]} />
      <div>
        <button type="button" id="rules-add" onClick={add} disabled={draft.rules.length >= MAX_RULES} data-testid="rule-add">
          Add rule
        </button>
      </div>

      <SaveActions
        saving={update.isPending}
        changed={built.paths.length > 0}
        adminKey={adminKey}
        hintId="rules-need-key"
        saveLabel="Save rules"
        saveTestId="rules-save"
        onUndo={() => {
          setDraft(original);
          setErrors({});
          update.reset();
        }}
      />
      <p className="sr-only" aria-live="polite" data-testid="rules-announce">
        {announce}
      </p>
    </form>
  );
}

/** numberInput is the props of a whole-number input with its unit in its label. */
function NumberField({
  id,
  label,
  path,
  value,
  onChange,
  err,
  hint,
  placeholder = "none",
  testId,
}: {
  id: string;
  label: string;
  path: string;
  value: string;
  onChange: (v: string) => void;
  err: Err;
  hint?: string;
  placeholder?: string;
  testId?: string;
}) {
  const e = err(path);
  return (
    <Field id={id} label={label} error={e} hint={hint}>
      <input
        id={id}
        inputMode="numeric"
        className="narrow"
        value={value}
        placeholder={placeholder}
        onChange={(ev) => onChange(ev.target.value)}
        aria-invalid={!!e}
        aria-describedby={e ? `${id}-err` : hint ? `${id}-hint` : undefined}
        data-testid={testId}
        data-path={path}
      />
    </Field>
  );
}

function CapsFields({
  legend,
  caps,
  onChange,
  path,
  idPrefix,
  err,
}: {
  legend: string;
  caps: CapsDraft;
  onChange: (c: CapsDraft) => void;
  path: string;
  idPrefix: string;
  err: Err;
}) {
  const set = (k: keyof CapsDraft) => (v: string) => onChange({ ...caps, [k]: v });
  return (
    <fieldset data-testid={`${idPrefix}`}>
      <legend>{legend}</legend>
      <p className="muted small">A launch is an invitation, or an alert about the visitor. Empty: no cap.</p>
      <div className="grid">
        <NumberField id={`${idPrefix}-visit`} label="Launches per visit" path={`${path}.max_per_visit`} value={caps.maxPerVisit} onChange={set("maxPerVisit")} err={err} />
        <NumberField id={`${idPrefix}-day`} label="Launches per 24 hours" path={`${path}.max_per_day`} value={caps.maxPerDay} onChange={set("maxPerDay")} err={err} />
        <NumberField id={`${idPrefix}-ever`} label="Launches ever" path={`${path}.max_ever`} value={caps.maxEver} onChange={set("maxEver")} err={err} />
        <NumberField
          id={`${idPrefix}-decline`}
          label="Quiet after a No (seconds)"
          path={`${path}.suppress_after_decline_seconds`}
          value={caps.suppressAfterDeclineSeconds}
          onChange={set("suppressAfterDeclineSeconds")}
          err={err}
          placeholder="re-invite"
          hint="After a declined or expired invitation. Empty: the site's re-invite time."
        />
      </div>
    </fieldset>
  );
}

function modeText(m: ProactiveChatMode): string {
  return m === ProactiveChatMode.WITH_INVITE ? "with invite" : m === ProactiveChatMode.WITHOUT_INVITE ? "without invite" : "no mode";
}

function RuleCard({
  siteId,
  rule: r,
  index: i,
  count,
  open,
  err,
  errs,
  hasErrors,
  onChange,
  onToggle,
  onMove,
  onDuplicate,
  onRemove,
}: {
  siteId: string;
  rule: RuleDraft;
  index: number;
  count: number;
  open: boolean;
  err: Err;
  errs: Record<string, string>;
  hasErrors: boolean;
  onChange: (r: RuleDraft) => void;
  onToggle: () => void;
  onMove: (by: number) => void;
  onDuplicate: () => void;
  onRemove: () => void;
}) {
  const id = `rule-${r.key}`;
  const p = `proactive_chat.rules[${i}]`;
  const name = r.name.trim() || "Rule without a name";
  const set = <K extends keyof RuleDraft>(k: K, v: RuleDraft[K]) => onChange({ ...r, [k]: v });
  const setCond = <K extends keyof ConditionsDraft>(k: K, v: ConditionsDraft[K]) => onChange({ ...r, conditions: { ...r.conditions, [k]: v } });
  const withInvite = r.mode === ProactiveChatMode.WITH_INVITE;
  const c = r.conditions;
  const cp = `${p}.conditions`;
  // A list's errors ("…include_pages[1]") are shown on the list's input.
  const listErr = (prefix: string) =>
    Object.entries(errs)
      .filter(([k]) => k === prefix || (k.startsWith(`${prefix}[`) && /^\[\d+\]$/.test(k.slice(prefix.length))))
      .map(([, v]) => v)
      .join("; ") || undefined;
  const text = (key: keyof ConditionsDraft, label: string, hint: string, rows = 2) => {
    const path = `${cp}.${snake(key)}`;
    const e = listErr(path);
    return (
      <Field id={`${id}-${key}`} label={label} error={e} hint={hint}>
        <textarea
          id={`${id}-${key}`}
          rows={rows}
          value={c[key] as string}
          onChange={(ev) => setCond(key, ev.target.value as never)}
          aria-invalid={!!e}
          aria-describedby={e ? `${id}-${key}-err` : `${id}-${key}-hint`}
          data-path={path}
        />
      </Field>
    );
  };
  const numberCond = (key: keyof ConditionsDraft, label: string, hint?: string) => (
    <NumberField
      id={`${id}-${key}`}
      label={label}
      path={`${cp}.${snake(key)}`}
      value={c[key] as string}
      onChange={(v) => setCond(key, v as never)}
      err={err}
      hint={hint}
      testId={`cond-${snake(key)}`}
    />
  );
  const check = (key: keyof ConditionsDraft, label: string, hint?: string) => (
    <div className="check">
      <input
        type="checkbox"
        id={`${id}-${key}`}
        checked={c[key] as boolean}
        onChange={(ev) => setCond(key, ev.target.checked as never)}
        aria-describedby={hint ? `${id}-${key}-hint` : undefined}
        data-testid={`cond-${snake(key)}`}
      />
      <label htmlFor={`${id}-${key}`}>{label}</label>
      {hint && (
        <span className="hint" id={`${id}-${key}-hint`}>
          {hint}
        </span>
      )}
      <FieldError id={`${id}-${key}-err`} msg={err(`${cp}.${snake(key)}`)} />
    </div>
  );
  const select = <T extends number>(key: keyof ConditionsDraft, label: string, options: [T, string][]) => {
    const e = err(`${cp}.${snake(key)}`);
    return (
      <Field id={`${id}-${key}`} label={label} error={e}>
        <select
          id={`${id}-${key}`}
          value={c[key] as number}
          onChange={(ev) => setCond(key, Number(ev.target.value) as never)}
          aria-invalid={!!e}
          aria-describedby={e ? `${id}-${key}-err` : undefined}
          data-testid={`cond-${snake(key)}`}
        >
          {options.map(([v, l]) => (
            <option key={v} value={v}>
              {l}
            </option>
          ))}
        </select>
      </Field>
    );
  };

  return (
    <article className={`rule-card${r.enabled ? "" : " off"}`} aria-labelledby={`${id}-title`} data-testid="rule" data-rule-id={r.id || undefined}>
      <div className="rule-head">
        <h4 id={`${id}-title`}>
          <span className="rule-place">{i + 1}.</span> {name}
        </h4>
        <span className="muted small">
          {modeText(r.mode)}
          {r.holdoutPercent.trim() && r.holdoutPercent.trim() !== "0" ? ` · ${r.holdoutPercent.trim()}% held out` : ""}
          {r.variants.length > 0 ? ` · ${r.variants.length} variants` : ""}
        </span>
        {hasErrors && <span className="tag error-tag">has errors</span>}
        <div className="check">
          <input
            type="checkbox"
            id={`${id}-enabled`}
            checked={r.enabled}
            onChange={(e) => set("enabled", e.target.checked)}
            data-testid="rule-enabled"
          />
          <label htmlFor={`${id}-enabled`}>
            Enabled<span className="sr-only"> ({name})</span>
          </label>
        </div>
        <div className="row-actions">
          <button
            type="button"
            id={`${id}-toggle`}
            aria-expanded={open}
            aria-controls={`${id}-body`}
            onClick={onToggle}
            data-testid="rule-toggle"
          >
            {open ? "Close" : "Edit"}
            <span className="sr-only"> {name}</span>
          </button>
          <button type="button" id={`${id}-up`} className="ghost" disabled={i === 0} onClick={() => onMove(-1)} aria-label={`Move ${name} up`} data-testid="rule-up">
            ↑
          </button>
          <button
            type="button"
            id={`${id}-down`}
            className="ghost"
            disabled={i === count - 1}
            onClick={() => onMove(1)}
            aria-label={`Move ${name} down`}
            data-testid="rule-down"
          >
            ↓
          </button>
          <button type="button" className="ghost" onClick={onDuplicate} disabled={count >= 50} data-testid="rule-duplicate">
            Duplicate<span className="sr-only"> {name}</span>
          </button>
          <button type="button" className="ghost danger" onClick={onRemove} data-testid="rule-delete">
            Delete<span className="sr-only"> {name}</span>
          </button>
        </div>
      </div>
      {open && (
        <div id={`${id}-body`} className="rule-body">
          <fieldset>
            <legend>Rule</legend>
            <div className="grid">
              <Field id={`${id}-name`} label="Name" error={err(`${p}.name`)}>
                <input
                  id={`${id}-name`}
                  value={r.name}
                  maxLength={100}
                  onChange={(e) => set("name", e.target.value)}
                  aria-invalid={!!err(`${p}.name`)}
                  aria-describedby={err(`${p}.name`) ? `${id}-name-err` : undefined}
                  data-testid="rule-name"
                  data-path={`${p}.name`}
                />
              </Field>
              <Field id={`${id}-mode`} label="Mode" error={err(`${p}.mode`)}>
                <select
                  id={`${id}-mode`}
                  value={r.mode}
                  onChange={(e) => set("mode", Number(e.target.value) as ProactiveChatMode)}
                  aria-invalid={!!err(`${p}.mode`)}
                  aria-describedby={err(`${p}.mode`) ? `${id}-mode-err` : undefined}
                  data-testid="rule-mode"
                >
                  {r.mode === ProactiveChatMode.UNSPECIFIED && <option value={0}>Choose a mode…</option>}
                  {modeLabels.map(([v, l]) => (
                    <option key={v} value={v}>
                      {l}
                    </option>
                  ))}
                </select>
              </Field>
              <NumberField
                id={`${id}-holdout`}
                label="Control group (% held out)"
                path={`${p}.holdout_percent`}
                value={r.holdoutPercent}
                onChange={(v) => set("holdoutPercent", v)}
                err={err}
                placeholder="0"
                hint="0 to 50: matched but not approached, to compare."
                testId="rule-holdout"
              />
            </div>
            {withInvite && (
              <Field id={`${id}-invite`} label="Invitation text" error={err(`${p}.invite_text`)} hint={r.variants.length ? "Unused while there are variants." : undefined}>
                <textarea
                  id={`${id}-invite`}
                  rows={2}
                  maxLength={500}
                  value={r.inviteText}
                  onChange={(e) => set("inviteText", e.target.value)}
                  aria-invalid={!!err(`${p}.invite_text`)}
                  aria-describedby={err(`${p}.invite_text`) ? `${id}-invite-err` : r.variants.length ? `${id}-invite-hint` : undefined}
                  data-testid="rule-invite-text"
                />
              </Field>
            )}
          </fieldset>

          {withInvite && (
            <fieldset data-testid="rule-variants">
              <legend>A/B variants of the invitation</legend>
              <FieldError id={`${id}-variants-err`} msg={err(`${p}.variants`)} />
              {r.variants.length === 0 && <p className="muted small">None: everyone sees the invitation text above.</p>}
              {r.variants.map((v, j) => {
                const vp = `${p}.variants[${j}]`;
                const vid = `${id}-v${j}`;
                const setV = (patch: Partial<typeof v>) => set("variants", r.variants.map((x, k) => (k === j ? { ...x, ...patch } : x)));
                return (
                  <div className="variant-row" key={j} data-testid="variant-row">
                    <Field id={`${vid}-name`} label="Variant name" error={err(`${vp}.name`) ?? err(vp)}>
                      <input id={`${vid}-name`} value={v.name} maxLength={100} onChange={(e) => setV({ name: e.target.value })} aria-invalid={!!err(`${vp}.name`)} data-testid="variant-name" />
                    </Field>
                    <Field id={`${vid}-text`} label="Invitation text" error={err(`${vp}.invite_text`)}>
                      <textarea id={`${vid}-text`} rows={2} maxLength={500} value={v.inviteText} onChange={(e) => setV({ inviteText: e.target.value })} aria-invalid={!!err(`${vp}.invite_text`)} data-testid="variant-text" />
                    </Field>
                    <NumberField
                      id={`${vid}-weight`}
                      label="Weight (share)"
                      path={`${vp}.weight`}
                      value={v.weight}
                      onChange={(w) => setV({ weight: w })}
                      err={err}
                      placeholder="1–100"
                      testId="variant-weight"
                    />
                    <div className="row-actions">
                      <button type="button" className="ghost danger" onClick={() => set("variants", r.variants.filter((_, k) => k !== j))} aria-label={`Remove variant ${v.name || j + 1}`}>
                        Remove
                      </button>
                    </div>
                  </div>
                );
              })}
              <div>
                <button
                  type="button"
                  onClick={() => set("variants", [...r.variants, { id: "", name: String.fromCharCode(65 + (r.variants.length % 26)), inviteText: r.inviteText, weight: "50" }])}
                  data-testid="variant-add"
                >
                  Add variant
                </button>
              </div>
            </fieldset>
          )}

          <fieldset data-testid="rule-conditions">
            <legend>Conditions (all must hold; empty: no condition)</legend>
            <Group title="Time and pages">
              <div className="grid">
                {numberCond("minSecondsOnSite", "Seconds on the site, at least", "In this visit, across page loads.")}
                {numberCond("minSecondsOnPage", "Seconds on the current page, at least")}
                {numberCond("minPagesViewed", "Pages viewed in this visit, at least", "The current one included.")}
              </div>
              {text("includePages", "Only on pages matching (one a line)", "Globs on the page URL (* and ?), e.g. https://shop.example/products/*")}
              {text("excludePages", "Never on pages matching (one a line)", "Globs on the page URL.")}
              {text("pageTitles", "Page title matches (one a line)", "Globs on the page's title, any case, e.g. *checkout*")}
            </Group>
            <Group title="Where the visitor came from">
              {text("referrerHosts", "Referrer host matches (one a line)", "Globs on the host of the page that sent the visitor, e.g. *.google.*; (direct) for none.")}
              <div className="sub-list" data-testid="utm-conditions">
                <span className="sub-list-title">UTM parameters of the landing page</span>
                {c.utm.map((u, j) => {
                  const up = `${cp}.utm[${j}]`;
                  const uid = `${id}-utm${j}`;
                  const setU = (patch: Partial<typeof u>) => setCond("utm", c.utm.map((x, k) => (k === j ? { ...x, ...patch } : x)));
                  return (
                    <div className="cond-row" key={j}>
                      <Field id={`${uid}-p`} label="Parameter" error={err(`${up}.parameter`)}>
                        <select id={`${uid}-p`} value={u.parameter} onChange={(e) => setU({ parameter: e.target.value })}>
                          {UTM_PARAMETERS.map((x) => (
                            <option key={x} value={x}>
                              {x}
                            </option>
                          ))}
                        </select>
                      </Field>
                      <Field id={`${uid}-v`} label="Value matches (glob)" error={err(`${up}.value`) ?? err(up)}>
                        <input id={`${uid}-v`} value={u.value} onChange={(e) => setU({ value: e.target.value })} aria-invalid={!!(err(`${up}.value`) ?? err(up))} placeholder="e.g. newsletter*" />
                      </Field>
                      <div className="row-actions">
                        <button type="button" className="ghost danger" onClick={() => setCond("utm", c.utm.filter((_, k) => k !== j))} aria-label={`Remove UTM condition ${j + 1}`}>
                          Remove
                        </button>
                      </div>
                    </div>
                  );
                })}
                <div>
                  <button type="button" onClick={() => setCond("utm", [...c.utm, { parameter: "utm_source", value: "" }])}>
                    Add UTM condition
                  </button>
                </div>
              </div>
            </Group>
            <Group title="Who the visitor is">
              <div className="grid">
                {select("recency", "New or returning", recencyLabels)}
                {select("chatHistory", "Chats before", chatHistoryLabels)}
              </div>
              {check("nameKnown", "The visitor's name is known", "The page or the form said it.")}
              <div className="sub-list" data-testid="attribute-conditions">
                <span className="sub-list-title">Attributes the page set (e.g. cart_value is greater than 100)</span>
                {c.attributes.map((a, j) => {
                  const ap = `${cp}.attributes[${j}]`;
                  const aid = `${id}-attr${j}`;
                  const setA = (patch: Partial<typeof a>) => setCond("attributes", c.attributes.map((x, k) => (k === j ? { ...x, ...patch } : x)));
                  return (
                    <div className="cond-row" key={j} data-testid="attribute-row">
                      <Field id={`${aid}-k`} label="Attribute" error={err(`${ap}.key`) ?? err(ap)}>
                        <input id={`${aid}-k`} value={a.key} onChange={(e) => setA({ key: e.target.value })} aria-invalid={!!(err(`${ap}.key`) ?? err(ap))} placeholder="cart_value" data-testid="attribute-key" />
                      </Field>
                      <Field id={`${aid}-o`} label="Comparison" error={err(`${ap}.operator`)}>
                        <select id={`${aid}-o`} value={a.operator} onChange={(e) => setA({ operator: Number(e.target.value) as AttributeOperator })} data-testid="attribute-operator">
                          {operatorLabels.map(([v, l]) => (
                            <option key={v} value={v}>
                              {l}
                            </option>
                          ))}
                        </select>
                      </Field>
                      <Field id={`${aid}-v`} label="Value" error={err(`${ap}.value`)}>
                        <input
                          id={`${aid}-v`}
                          value={a.value}
                          disabled={a.operator === AttributeOperator.PRESENT}
                          onChange={(e) => setA({ value: e.target.value })}
                          aria-invalid={!!err(`${ap}.value`)}
                          data-testid="attribute-value"
                        />
                      </Field>
                      <div className="row-actions">
                        <button type="button" className="ghost danger" onClick={() => setCond("attributes", c.attributes.filter((_, k) => k !== j))} aria-label={`Remove attribute condition ${j + 1}`}>
                          Remove
                        </button>
                      </div>
                    </div>
                  );
                })}
                <div>
                  <button
                    type="button"
                    onClick={() => setCond("attributes", [...c.attributes, { key: "", operator: AttributeOperator.EQUALS, value: "" }])}
                    data-testid="attribute-add"
                  >
                    Add attribute condition
                  </button>
                </div>
              </div>
              <fieldset className="inline-choices">
                <legend>Devices (none ticked: any)</legend>
                {deviceLabels.map(([d, l]) => (
                  <span className="check" key={d}>
                    <input
                      type="checkbox"
                      id={`${id}-dev${d}`}
                      checked={c.devices.includes(d)}
                      onChange={(e) => setCond("devices", e.target.checked ? [...c.devices, d] : c.devices.filter((x) => x !== d))}
                      data-testid={`cond-device-${d}`}
                    />
                    <label htmlFor={`${id}-dev${d}`}>{l}</label>
                  </span>
                ))}
                <FieldError id={`${id}-devices-err`} msg={listErr(`${cp}.devices`)} />
              </fieldset>
              <Field id={`${id}-languages`} label="Languages" error={listErr(`${cp}.languages`)} hint="Comma-separated, e.g. de, en-GB (de matches de-AT). Empty: any.">
                <input
                  id={`${id}-languages`}
                  value={c.languages}
                  onChange={(e) => setCond("languages", e.target.value)}
                  aria-invalid={!!listErr(`${cp}.languages`)}
                  aria-describedby={listErr(`${cp}.languages`) ? `${id}-languages-err` : `${id}-languages-hint`}
                />
              </Field>
            </Group>
            <Group title="What the visitor does">
              <div className="grid">
                {numberCond("minScrollPercent", "Scrolled down the page (%), at least", "1 to 100.")}
                {numberCond("minIdleSeconds", "Idle on the page (seconds), at least", "No pointer, keys, scrolling or touch.")}
              </div>
              {check("exitIntent", "Exit intent", "The pointer left toward the browser's bar (desktops only).")}
            </Group>
            <Group title="Availability">
              <div className="grid">
                {select("businessHours", "Business hours", businessHoursLabels)}
                {numberCond("maxPredictedWaitSeconds", "Predicted wait (seconds), at most", "Invite only when an agent can answer within it.")}
              </div>
              {check(
                "agentAvailable",
                "An agent is available",
                withInvite
                  ? "With room for another chat. An invitation always waits for one, except outside business hours (to leave a message)."
                  : "With room for another chat.",
              )}
            </Group>
          </fieldset>

          <CapsFields legend="Caps of this rule, per visitor" caps={r.caps} onChange={(caps) => set("caps", caps)} path={`${p}.caps`} idPrefix={`${id}-caps`} err={err} />

          {withInvite && (
            <FormFieldsEditor
              fields={r.formFields}
              onChange={(f) => set("formFields", f)}
              path={`${p}.form_fields`}
              idPrefix={id}
              legend="Data-collection form (after Yes)"
              err={err}
            />
          )}

          <RulePreview siteId={siteId} rule={r} idPrefix={id} />
        </div>
      )}
    </article>
  );
}

function snake(k: string): string {
  return k.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
}

function Group({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div className="cond-group" role="group" aria-label={title}>
      <h5>{title}</h5>
      {children}
    </div>
  );
}

/**
 * RulePreview evaluates the rule as being edited (unsaved) against the
 * site's visitors online now (PreviewTriggerRule): who matches, and for
 * the others which conditions fail or which cap stops the rule. It asks
 * again a moment after each edit, and every 15 s while open.
 */
function RulePreview({ siteId, rule, idPrefix }: { siteId: string; rule: RuleDraft; idPrefix: string }) {
  const [open, setOpen] = useState(false);
  const built = previewRule(rule);
  const ok = Object.keys(built.errors).length === 0;
  const key = JSON.stringify(built.rule);
  const [settled, setSettled] = useState(key);
  useEffect(() => {
    const t = setTimeout(() => setSettled(key), 500);
    return () => clearTimeout(t);
  }, [key]);
  const input = useMemo(() => ({ siteId, rule: JSON.parse(settled) }), [siteId, settled]);
  const res = useQuery(AdminService.method.previewTriggerRule, input, {
    enabled: open && ok,
    refetchInterval: open ? 15_000 : false,
    placeholderData: keepPreviousData,
  });
  const serverErrors = Object.entries(violationsByField(res.error));
  const list = res.data?.evaluations ?? [];
  const matching = list.filter((e) => e.matches && !e.cappedBy).length;
  return (
    <section className="rule-preview" aria-labelledby={`${idPrefix}-preview-title`} data-testid="rule-preview">
      <div className="rule-head">
        <h5 id={`${idPrefix}-preview-title`}>Preview</h5>
        <button type="button" aria-expanded={open} aria-controls={`${idPrefix}-preview-body`} onClick={() => setOpen(!open)} data-testid="rule-preview-toggle">
          {open ? "Hide preview" : "Preview with the visitors online now"}
        </button>
        {open && (
          <button type="button" className="ghost" onClick={() => void res.refetch()} disabled={!ok || res.isFetching}>
            Refresh
          </button>
        )}
      </div>
      {open && (
        <div id={`${idPrefix}-preview-body`}>
          {!ok ? (
            <p className="muted small">Correct the marked fields to preview: {Object.values(built.errors).join("; ")}</p>
          ) : res.isPending ? (
            <p className="muted small">Evaluating…</p>
          ) : res.error ? (
            <div className="error-text" role="alert" data-testid="rule-preview-error">
              {serverErrors.length > 0 ? (
                <>
                  The server cannot evaluate this rule:
                  <ul>
                    {serverErrors.map(([k, v]) => (
                      <li key={k}>
                        {k.replace(/^rule\./, "")}: {v}
                      </li>
                    ))}
                  </ul>
                </>
              ) : (
                errorText(res.error)
              )}
            </div>
          ) : (
            <>
              <p className="small" role="status" data-testid="rule-preview-summary">
                {res.data?.onlineVisitors ?? 0} online now; {matching} would be approached by this rule
                {list.length < (res.data?.onlineVisitors ?? 0) ? ` (the ${list.length} longest on the site shown)` : ""}.
              </p>
              {list.length > 0 && (
                <table className="table">
                  <caption className="sr-only">Visitors online now and how they fare against this rule</caption>
                  <thead>
                    <tr>
                      <th scope="col">Visitor</th>
                      <th scope="col">Page</th>
                      <th scope="col">On site</th>
                      <th scope="col">Result</th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.map((e, j) => {
                      const v = e.visitor;
                      const t = durMs(v?.timeOnSite);
                      return (
                        <tr key={v?.visitorId ?? j} data-testid="preview-row" data-visitor-id={v?.visitorId} data-matches={e.matches && !e.cappedBy ? "true" : "false"}>
                          <td>{visitorName(v?.visitorId ?? "", v?.identity)}</td>
                          <td className="small">{v?.currentPage?.title || v?.currentPage?.url || "—"}</td>
                          <td className="small">{t === undefined ? "—" : formatDuration(t)}</td>
                          <td>
                            {e.matches ? (
                              e.cappedBy ? (
                                <span data-testid="preview-capped">Matches, but capped: {e.cappedBy}</span>
                              ) : (
                                <strong className="ok-text" data-testid="preview-match">
                                  Matches
                                </strong>
                              )
                            ) : (
                              <>
                                <span>Does not match:</span>
                                <ul className="failed-conditions" data-testid="preview-failed">
                                  {e.failedConditions.map((f) => (
                                    <li key={f}>{f}</li>
                                  ))}
                                </ul>
                                {e.cappedBy && <span className="muted small">Also capped: {e.cappedBy}</span>}
                              </>
                            )}
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              )}
            </>
          )}
        </div>
      )}
    </section>
  );
}
