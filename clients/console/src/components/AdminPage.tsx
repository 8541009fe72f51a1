import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectQueryKey, useMutation, useQuery, useTransport } from "@connectrpc/connect-query";
import { useMutation as useTanstackMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import type { FormEvent } from "react";
import { AdminService } from "../../../gen/proactivechat/v1/admin_service_pb";
import type { CannedReply, Site, TriggerRule } from "../../../gen/proactivechat/v1/site_pb";
import { useAuth, useAuthState } from "../hooks";
import { Field, FieldError, SaveActions } from "./fields";
import { FunnelChart } from "./Funnel";
import { RuleReport } from "./RuleReport";
import { TriggerRules } from "./TriggerRules";
import { errorText, violationsByField } from "../lib/errors";
import { formatDateTime, tsMs } from "../lib/time";
import { Webhooks } from "./Webhooks";
import type { SettingsDraft } from "../state/settings";
import { buildUpdateSiteRequest, draftFromSite, retentionFields, dayNames, timeoutFields } from "../state/settings";

/**
 * AdminPage turns proactive chat on per site and edits its settings. The
 * agent's session reads them (the sites the agent serves); saving needs an
 * admin API key, which the page asks for.
 */
export function AdminPage() {
  const { adminKey } = useAuthState();
  const sites = useQuery(AdminService.method.listSites, {});
  const [selected, setSelected] = useState<string>();
  const list = sites.data?.sites ?? [];
  const site = list.find((s) => s.id === selected) ?? list[0];
  return (
    <>
      <AdminKey />
      <div className="two-col">
        <section className="panel" aria-labelledby="sites-title">
          <h2 id="sites-title">Sites</h2>
          {sites.isPending && <p className="muted">Loading…</p>}
          {sites.error && (
            <p className="error-text" role="alert">
              {errorText(sites.error)}
            </p>
          )}
          <ul className="pick-list" data-testid="site-list">
            {list.map((s) => (
              <li key={s.id}>
                <button
                  type="button"
                  className="pick"
                  aria-current={s.id === site?.id ? "true" : undefined}
                  onClick={() => setSelected(s.id)}
                  data-testid="site-item"
                  data-site-id={s.id}
                >
                  <strong>{s.name || s.id}</strong>
                  <span className="muted small">
                    {s.proactiveChat?.enabled ? `On · ${rulesText(s.proactiveChat.rules)}` : "Proactive chat off"}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </section>
        <section className="panel" aria-labelledby="site-title">
          {site ? (
            <>
              <SiteEditor key={site.id} site={site} />
              <TriggerRules key={`rules-${site.id}`} site={site} />
              <CannedReplies key={`canned-${site.id}`} siteId={site.id} />
              <FunnelChart key={`funnel-${site.id}`} siteId={site.id} />
              <RuleReport key={`rule-report-${site.id}`} siteId={site.id} rules={site.proactiveChat?.rules ?? []} />
              <RoutingDecisions siteId={site.id} />
            </>
          ) : (
            <h2 id="site-title" className="muted">
              No site
            </h2>
          )}
        </section>
      </div>
      <section className="panel" aria-label="Webhooks">
        <Webhooks hasAdminKey={!!adminKey} />
      </section>
    </>
  );
}

/** rulesText sums up a site's rules in the site list: how many are on. */
function rulesText(rules: readonly TriggerRule[]): string {
  const on = rules.filter((r) => r.enabled).length;
  if (rules.length === 0) return "no trigger rules";
  return `${on} of ${rules.length} trigger ${rules.length === 1 ? "rule" : "rules"} enabled`;
}

/**
 * AdminKey asks for the admin API key that changing settings needs. The
 * key is checked (ListWebhooks accepts admin keys only, including keys
 * scoped to some sites, which ListApiKeys refuses) before it is kept,
 * in this tab's sessionStorage; the transport sends it only on the
 * AdminService calls an agent may not make (see lib/auth.ts).
 */
function AdminKey() {
  const auth = useAuth();
  const { adminKey, adminKeyRefused } = useAuthState();
  const transport = useTransport();
  const [key, setKey] = useState("");
  const check = useTanstackMutation({
    mutationFn: (candidate: string) =>
      createClient(AdminService, transport).listWebhooks({}, { headers: { Authorization: `Bearer ${candidate}` } }),
    onSuccess: (_, candidate) => {
      setKey("");
      auth.setAdminKey(candidate);
    },
  });
  const code = check.error ? ConnectError.from(check.error).code : undefined;
  const error =
    code === Code.Unauthenticated
      ? "The server does not know this key (or it was revoked)."
      : code === Code.PermissionDenied
        ? "This is not an admin API key (they start with pca_)."
        : check.error
          ? errorText(check.error)
          : adminKeyRefused;
  if (adminKey) {
    return (
      <section className="card admin-key" aria-labelledby="admin-key-title" data-testid="admin-key-status">
        <h2 id="admin-key-title">Admin API key</h2>
        <p>
          Changes are saved with the admin API key <code>{adminKey.slice(0, 8)}…</code>, kept in this tab only.{" "}
          <button type="button" className="link" onClick={() => auth.setAdminKey("")} data-testid="admin-key-forget">
            Forget the key
          </button>
        </p>
      </section>
    );
  }
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const k = key.trim();
    if (k && !check.isPending) check.mutate(k);
  };
  return (
    <section className="card admin-key" aria-labelledby="admin-key-title">
      <h2 id="admin-key-title">Admin API key</h2>
      <p id="admin-key-help">
        You can read the settings of your sites; <strong>changing them needs an admin API key</strong>{" "}
        (<code>pca_…</code>). The server prints the first one when it starts on a new database, and{" "}
        <code>proactivechat api-key</code> makes more. The key stays in this tab only and is sent only with the calls
        that need it.
      </p>
      <form onSubmit={submit} data-testid="admin-key-form">
        <label htmlFor="admin-key">Admin API key</label>
        <input
          id="admin-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={key}
          onChange={(e) => setKey(e.target.value)}
          data-testid="admin-key-input"
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? "admin-key-help admin-key-error" : "admin-key-help"}
        />
        <button type="submit" disabled={!key.trim() || check.isPending} data-testid="admin-key-save">
          {check.isPending ? "Checking…" : "Use this key"}
        </button>
      </form>
      {error && (
        <p id="admin-key-error" className="error-text" role="alert" data-testid="admin-key-error">
          {error}
        </p>
      )}
    </section>
  );
}

function SiteEditor({ site }: { site: Site }) {
  const transport = useTransport();
  const queryClient = useQueryClient();
  const { adminKey } = useAuthState();
  const [original, setOriginal] = useState(() => draftFromSite(site));
  const [draft, setDraft] = useState<SettingsDraft>(original);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [saved, setSaved] = useState(false);
  const update = useMutation(AdminService.method.updateSite, {
    onSuccess: (res) => {
      setSaved(true);
      setErrors({});
      if (res.site) {
        const fresh = draftFromSite(res.site);
        setOriginal(fresh);
        setDraft(fresh);
      }
      const key = createConnectQueryKey({
        schema: AdminService.method.listSites,
        transport,
        input: {},
        cardinality: "finite",
      });
      queryClient.setQueryData(key, (old) =>
        old && res.site ? { ...old, sites: old.sites.map((s) => (s.id === res.site!.id ? res.site! : s)) } : old,
      );
      void queryClient.invalidateQueries({ queryKey: key });
    },
    onError: (err) => setErrors(violationsByField(err)),
  });

  const built = buildUpdateSiteRequest(site.id, original, draft);
  const set = <K extends keyof SettingsDraft>(k: K, v: SettingsDraft[K]) => {
    setSaved(false);
    setDraft((d) => ({ ...d, [k]: v }));
  };
  const save = (e: FormEvent) => {
    e.preventDefault();
    setErrors(built.errors);
    if (built.request) update.mutate(built.request);
  };

  // Server violations are named like "proactive_chat.form_fields[1].key".
  const err = (path: string) => errors[path];
  const known = new Set<string>([
    "name",
    "allowed_origins",
    "proactive_chat.enabled",
    ...timeoutFields.map(([, p]) => `proactive_chat.${p}`),
    ...retentionFields.map(([, p]) => p),
    "visitor_launcher.enabled",
    "visitor_launcher.label",
    "business_hours.time_zone",
    "business_hours.holidays",
    "offline_message.max_wait_seconds",
    ...dayNames.map((_, i) => `business_hours.days[${i}]`),
  ]);
  const otherErrors = Object.entries(errors).filter(
    ([k]) => !known.has(k) && !/^allowed_origins\[\d+\]$/.test(k),
  );
  const listErr = (prefix: string) =>
    Object.entries(errors)
      .filter(([k]) => k === prefix || k.startsWith(prefix + "["))
      .map(([, v]) => v)
      .join("; ") || undefined;
  // Errors in the folded part open it.
  const advancedError = Object.keys(errors).some(
    (k) => /^(name|allowed_origins)/.test(k) || timeoutFields.some(([, p]) => k === `proactive_chat.${p}`),
  );
  const [advancedOpen, setAdvancedOpen] = useState(false);
  useEffect(() => {
    if (advancedError) setAdvancedOpen(true);
  }, [advancedError]);

  return (
    <form onSubmit={save} className="settings" data-testid="site-settings" data-site-id={site.id} noValidate>
      <h2 id="site-title">{site.name || site.id}</h2>
      <p className="muted small">
        <code>{site.id}</code> · updated {formatDateTime(tsMs(site.updateTime))}
      </p>
      {(update.isError || Object.keys(errors).length > 0) && (
        <div className="error-text" role="alert" data-testid="settings-error">
          {Object.keys(errors).length > 0 ? "Please correct the marked settings." : errorText(update.error)}
          {otherErrors.length > 0 && (
            <ul>
              {otherErrors.map(([k, v]) => (
                <li key={k}>
                  {k}: {v}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {saved && !update.isPending && (
        <p className="ok-text" role="status" data-testid="settings-saved">
          Saved.
        </p>
      )}

      <fieldset>
        <legend>Proactive chat</legend>
        <div className="check">
          <input
            type="checkbox"
            id="pc-enabled"
            checked={draft.enabled}
            onChange={(e) => set("enabled", e.target.checked)}
            data-testid="pc-enabled"
          />
          <label htmlFor="pc-enabled">Proactive chat is on for this site</label>
          <FieldError id="pc-enabled-err" msg={err("proactive_chat.enabled")} />
        </div>
        <p className="muted small" id="pc-enabled-hint">
          Whom to approach, when and how — mode, invitation, form and conditions — is set by the trigger rules below.
        </p>
      </fieldset>

      <fieldset data-testid="launcher-settings">
        <legend>Visitor launcher</legend>
        <div className="check">
          <input
            type="checkbox"
            id="pc-launcher"
            checked={draft.launcherEnabled}
            onChange={(e) => set("launcherEnabled", e.target.checked)}
            data-testid="launcher-enabled"
            aria-describedby="pc-launcher-hint"
          />
          <label htmlFor="pc-launcher">Show a chat button visitors can click</label>
          <FieldError id="pc-launcher-err" msg={err("visitor_launcher.enabled")} />
        </div>
        <p className="muted small" id="pc-launcher-hint">
          While proactive chat is on, visitors who were not invited, or said No, can still ask for a chat: the form, then
          the queue.
        </p>
        <Field id="pc-launcher-label" label="Button text" error={err("visitor_launcher.label")}>
          <input
            id="pc-launcher-label"
            value={draft.launcherLabel}
            maxLength={40}
            placeholder="Chat with us"
            onChange={(e) => set("launcherLabel", e.target.value)}
            data-testid="launcher-label"
            aria-invalid={!!err("visitor_launcher.label")}
            aria-describedby={err("visitor_launcher.label") ? "pc-launcher-label-err" : undefined}
          />
        </Field>
      </fieldset>

      <fieldset data-testid="retention-settings">
        <legend>Data retention</legend>
        {retentionFields.map(([k, path, label, hint]) => {
          const id = `ret-${k}`;
          return (
            <Field key={k} id={id} label={label} error={err(path)} hint={hint}>
              <input
                id={id}
                inputMode="numeric"
                className="narrow"
                value={draft[k]}
                placeholder="default"
                onChange={(e) => set(k, e.target.value)}
                data-testid={`retention-${k === "visitorRetention" ? "visitors" : "chats"}`}
                aria-invalid={!!err(path)}
                aria-describedby={err(path) ? `${id}-err` : `${id}-hint`}
              />
            </Field>
          );
        })}
      </fieldset>

      <fieldset data-testid="business-hours">
        <legend>Business hours</legend>
        <p className="muted small">
          Outside them nothing proactive happens and visitors are offered to leave a message. All empty: always open.
        </p>
        <Field id="bh-zone" label="Time zone" error={err("business_hours.time_zone")} hint="An IANA zone, e.g. Europe/Berlin.">
          <input
            id="bh-zone"
            list="bh-zones"
            value={draft.timeZone}
            placeholder="Europe/Berlin"
            onChange={(e) => set("timeZone", e.target.value)}
            data-testid="bh-zone"
            aria-invalid={!!err("business_hours.time_zone")}
            aria-describedby={err("business_hours.time_zone") ? "bh-zone-err" : "bh-zone-hint"}
          />
        </Field>
        <datalist id="bh-zones">
          {timeZones.map((z) => (
            <option key={z} value={z} />
          ))}
        </datalist>
        <div className="grid">
          {dayNames.map((day, i) => (
            <Field key={day} id={`bh-day-${i}`} label={day} error={err(`business_hours.days[${i}]`)}>
              <input
                id={`bh-day-${i}`}
                value={draft.days[i] ?? ""}
                placeholder="closed"
                onChange={(e) => set("days", draft.days.map((d, j) => (j === i ? e.target.value : d)))}
                data-testid={`bh-day-${i}`}
                aria-invalid={!!err(`business_hours.days[${i}]`)}
                aria-describedby={err(`business_hours.days[${i}]`) ? `bh-day-${i}-err` : undefined}
              />
            </Field>
          ))}
        </div>
        <p className="muted small">Each day: intervals such as 09:00-12:00, 13:00-17:00 (24:00 ends the day); empty: closed.</p>
        <Field
          id="bh-holidays"
          label="Holidays (one a line)"
          error={err("business_hours.holidays") ?? listErr("business_hours.holidays")}
          hint="A date or a range, and a name: 2026-12-24..2026-12-26 Christmas"
        >
          <textarea
            id="bh-holidays"
            rows={3}
            value={draft.holidays}
            onChange={(e) => set("holidays", e.target.value)}
            data-testid="bh-holidays"
          />
        </Field>
        {listErr("business_hours.weekly") && <p className="error-text">{listErr("business_hours.weekly")}</p>}
        <Field
          id="om-wait"
          label="Offer to leave a message after a wait of (s)"
          error={err("offline_message.max_wait_seconds")}
          hint="For queued visitors whose estimated wait is longer. Empty: only when closed or nobody is available."
        >
          <input
            id="om-wait"
            inputMode="numeric"
            className="narrow"
            value={draft.offlineMaxWait}
            placeholder="never"
            onChange={(e) => set("offlineMaxWait", e.target.value)}
            data-testid="om-wait"
          />
        </Field>
      </fieldset>

      <details className="advanced" open={advancedOpen} onToggle={(e) => setAdvancedOpen(e.currentTarget.open)}>
        <summary>Timeouts and site</summary>
        <fieldset>
          <legend>Timeouts (empty = default)</legend>
          <div className="grid">
            {timeoutFields.map(([k, path, label, def]) => (
              <Field key={k} id={`pc-${path}`} label={label} error={err(`proactive_chat.${path}`)}>
                <input
                  id={`pc-${path}`}
                  inputMode="numeric"
                  value={draft[k]}
                  placeholder={def}
                  onChange={(e) => set(k, e.target.value)}
                  aria-invalid={!!err(`proactive_chat.${path}`)}
                  aria-describedby={err(`proactive_chat.${path}`) ? `pc-${path}-err` : undefined}
                />
              </Field>
            ))}
          </div>
        </fieldset>
        <fieldset>
          <legend>Site</legend>
          <Field id="site-name" label="Name" error={err("name")}>
            <input id="site-name" value={draft.name} onChange={(e) => set("name", e.target.value)} />
          </Field>
          <Field
            id="site-origins"
            label="Allowed origins of the widget (one a line)"
            error={listErr("allowed_origins")}
          >
            <textarea id="site-origins" rows={2} value={draft.allowedOrigins} onChange={(e) => set("allowedOrigins", e.target.value)} />
          </Field>
        </fieldset>
      </details>

      <SaveActions
        saving={update.isPending}
        changed={built.paths.length > 0}
        adminKey={adminKey}
        hintId="settings-need-key"
        hintTestId="settings-need-key"
        saveLabel="Save"
        saveTestId="save-settings"
        onUndo={() => {
          setDraft(original);
          setErrors({});
          update.reset();
        }}
      >
        {built.paths.length > 0 && <span className="muted small">Changes: {built.paths.join(", ")}</span>}
      </SaveActions>
    </form>
  );
}

function RoutingDecisions({ siteId }: { siteId: string }) {
  const res = useQuery(AdminService.method.listRoutingDecisions, { siteId, pageSize: 10 }, { refetchInterval: 15_000 });
  const list = res.data?.decisions ?? [];
  return (
    <details className="advanced" data-testid="routing-decisions">
      <summary>Recent routing decisions</summary>
      {list.length === 0 ? (
        <p className="muted small">None yet.</p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Agent</th>
              <th scope="col">Why</th>
            </tr>
          </thead>
          <tbody>
            {list.map((d, i) => (
              <tr key={`${d.chatRequestId}-${i}`}>
                <td>{formatDateTime(tsMs(d.time))}</td>
                <td>{d.agentId || "nobody"}</td>
                <td>{d.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </details>
  );
}

/**
 * CannedReplies manages a site's canned replies: agents insert them in a
 * chat by typing their shortcut. Changes need the admin API key.
 */
function CannedReplies({ siteId }: { siteId: string }) {
  const { adminKey } = useAuthState();
  const list = useQuery(AdminService.method.listCannedReplies, { siteId });
  const empty = { id: "", shortcut: "/", title: "", text: "" };
  const [draft, setDraft] = useState(empty);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string>();
  const done = () => {
    setDraft(empty);
    setErrors({});
    setError(undefined);
    void list.refetch();
  };
  const fail = (err: unknown) => {
    const byField = violationsByField(err);
    setErrors(byField);
    setError(Object.keys(byField).length ? undefined : errorText(err));
  };
  const create = useMutation(AdminService.method.createCannedReply, { onSuccess: done, onError: fail });
  const update = useMutation(AdminService.method.updateCannedReply, { onSuccess: done, onError: fail });
  const remove = useMutation(AdminService.method.deleteCannedReply, { onSuccess: done, onError: fail });
  const save = (e: FormEvent) => {
    e.preventDefault();
    const cannedReply = { siteId, id: draft.id, shortcut: draft.shortcut.trim(), title: draft.title, text: draft.text };
    if (draft.id) update.mutate({ cannedReply });
    else create.mutate({ cannedReply });
  };
  const edit = (r: CannedReply) => setDraft({ id: r.id, shortcut: r.shortcut, title: r.title, text: r.text });
  const replies = list.data?.cannedReplies ?? [];
  return (
    <details className="advanced" data-testid="canned-replies" open>
      <summary>Canned replies</summary>
      <p className="muted small">
        Agents type a shortcut (e.g. /price) in a chat to insert the text. {"{visitor.name}"}, {"{agent.name}"} and{" "}
        {"{site.name}"} are filled in; an unknown visitor's name becomes "there".
      </p>
      {replies.length === 0 ? (
        <p className="muted small">None yet.</p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Shortcut</th>
              <th scope="col">Title</th>
              <th scope="col">Text</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {replies.map((r) => (
              <tr key={r.id} data-testid="canned-row" data-shortcut={r.shortcut}>
                <td>
                  <code>{r.shortcut}</code>
                </td>
                <td>{r.title}</td>
                <td className="small">{r.text}</td>
                <td>
                  <button type="button" onClick={() => edit(r)} disabled={!adminKey}>
                    Edit
                  </button>{" "}
                  <button
                    type="button"
                    className="danger"
                    onClick={() => remove.mutate({ siteId, cannedReplyId: r.id })}
                    disabled={!adminKey || remove.isPending}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form onSubmit={save} className="canned-form" data-testid="canned-form">
        <h3 className="small">{draft.id ? `Edit ${draft.shortcut}` : "New canned reply"}</h3>
        <label>
          Shortcut{" "}
          <input
            value={draft.shortcut}
            onChange={(e) => setDraft((d) => ({ ...d, shortcut: e.target.value }))}
            maxLength={33}
            aria-invalid={!!errors.shortcut}
            data-testid="canned-shortcut"
          />
        </label>
        {errors.shortcut && <p className="error-text small">{errors.shortcut}</p>}
        <label>
          Title{" "}
          <input
            value={draft.title}
            onChange={(e) => setDraft((d) => ({ ...d, title: e.target.value }))}
            maxLength={100}
            aria-invalid={!!errors.title}
            data-testid="canned-title"
          />
        </label>
        {errors.title && <p className="error-text small">{errors.title}</p>}
        <label>
          Text{" "}
          <textarea
            value={draft.text}
            onChange={(e) => setDraft((d) => ({ ...d, text: e.target.value }))}
            maxLength={2000}
            rows={3}
            aria-invalid={!!errors.text}
            data-testid="canned-text"
          />
        </label>
        {errors.text && <p className="error-text small">{errors.text}</p>}
        {error && (
          <p className="error-text" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={!adminKey || create.isPending || update.isPending} data-testid="canned-save">
          {draft.id ? "Save" : "Add"}
        </button>{" "}
        {draft.id && (
          <button type="button" onClick={() => setDraft(empty)}>
            Cancel
          </button>
        )}
        {!adminKey && <p className="muted small">Changing canned replies needs the admin API key (above).</p>}
      </form>
    </details>
  );
}
/** timeZones are the zones the browser knows, offered while typing one. */
const timeZones: string[] = (() => {
  try {
    return (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.("timeZone") ?? [];
  } catch {
    return [];
  }
})();
