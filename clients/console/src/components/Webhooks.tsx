import { createConnectQueryKey, useMutation, useQuery, useTransport } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { FormEvent } from "react";
import { AdminService } from "../../../gen/proactivechat/v1/admin_service_pb";
import type { Webhook, WebhookDelivery } from "../../../gen/proactivechat/v1/admin_service_pb";
import { errorText, violationsByField } from "../lib/errors";
import { durMs, formatDateTime, tsMs } from "../lib/time";

/**
 * Webhooks manages the endpoints that receive the event log (admin API key
 * only): it lists them with their last delivery, creates one (showing its
 * secret once), enables, disables, pings and deletes them, and shows each
 * one's recent deliveries with a Redeliver button. Nothing is fetched until
 * the section is opened.
 */
export function Webhooks({ hasAdminKey }: { hasAdminKey: boolean }) {
  const [open, setOpen] = useState(false);
  return (
    <details className="advanced" data-testid="webhooks" onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>Webhooks</summary>
      {!hasAdminKey ? (
        <p className="muted small" data-testid="webhooks-need-key">
          Managing webhooks needs an admin API key.
        </p>
      ) : (
        open && <WebhookList />
      )}
    </details>
  );
}

function useInvalidateWebhooks() {
  const transport = useTransport();
  const queryClient = useQueryClient();
  return () => {
    void queryClient.invalidateQueries({
      queryKey: createConnectQueryKey({ schema: AdminService.method.listWebhooks, transport, cardinality: "finite" }),
    });
    void queryClient.invalidateQueries({
      queryKey: createConnectQueryKey({ schema: AdminService.method.listWebhookDeliveries, transport, cardinality: "finite" }),
    });
  };
}

function WebhookList() {
  const list = useQuery(AdminService.method.listWebhooks, {}, { refetchInterval: 15_000 });
  const invalidate = useInvalidateWebhooks();
  const [url, setUrl] = useState("");
  const [types, setTypes] = useState("");
  const [secret, setSecret] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [shown, setShown] = useState<string>();
  const create = useMutation(AdminService.method.createWebhook, {
    onSuccess: (res) => {
      setSecret(res.webhook?.secret ?? "");
      setUrl("");
      setTypes("");
      setErrors({});
      invalidate();
    },
    onError: (err) => setErrors(violationsByField(err)),
  });
  const update = useMutation(AdminService.method.updateWebhook, { onSuccess: invalidate });
  const remove = useMutation(AdminService.method.deleteWebhook, { onSuccess: invalidate });
  const ping = useMutation(AdminService.method.pingWebhook, { onSuccess: invalidate });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({
      url: url.trim(),
      eventTypes: types
        .split(/[\s,]+/)
        .map((t) => t.trim())
        .filter(Boolean),
    });
  };
  const hooks = list.data?.webhooks ?? [];
  const actionError = update.error ?? remove.error ?? ping.error;
  return (
    <>
      {list.error && (
        <p className="error-text" role="alert">
          {errorText(list.error)}
        </p>
      )}
      {hooks.length === 0 ? (
        <p className="muted small">No webhook endpoints.</p>
      ) : (
        <table className="table" data-testid="webhook-list">
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Events</th>
              <th scope="col">State</th>
              <th scope="col">Last delivery</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {hooks.map((w) => (
              <tr key={w.id} data-testid="webhook-item" data-webhook-id={w.id}>
                <td>
                  <code>{w.url}</code>
                </td>
                <td>{w.eventTypes.length ? w.eventTypes.join(", ") : "all"}</td>
                <td data-testid="webhook-state">{w.enabled ? "Enabled" : `Disabled${w.disabledReason ? `: ${w.disabledReason}` : ""}`}</td>
                <td>{w.lastDelivery ? deliveryStatus(w.lastDelivery) : "none yet"}</td>
                <td>
                  <button
                    type="button"
                    className="link"
                    data-testid="webhook-toggle"
                    onClick={() => update.mutate({ webhook: { id: w.id, enabled: !w.enabled }, updateMask: { paths: ["enabled"] } })}
                  >
                    {w.enabled ? "Disable" : "Enable"}
                  </button>{" "}
                  <button type="button" className="link" data-testid="webhook-ping" onClick={() => ping.mutate({ webhookId: w.id })}>
                    Ping
                  </button>{" "}
                  <button type="button" className="link" data-testid="webhook-show-deliveries" onClick={() => setShown(shown === w.id ? undefined : w.id)}>
                    Deliveries
                  </button>{" "}
                  <button
                    type="button"
                    className="link"
                    data-testid="webhook-delete"
                    onClick={() => {
                      if (window.confirm(`Delete the webhook to ${w.url}?`)) remove.mutate({ webhookId: w.id });
                    }}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {ping.data?.delivery && (
        <p className="small" data-testid="webhook-ping-result" role="status">
          Ping: {deliveryStatus(ping.data.delivery)}
        </p>
      )}
      {actionError && (
        <p className="error-text" role="alert">
          {errorText(actionError)}
        </p>
      )}
      {shown && hooks.some((w) => w.id === shown) && <Deliveries webhook={hooks.find((w) => w.id === shown)!} />}
      <form onSubmit={submit} data-testid="webhook-form">
        <label htmlFor="webhook-url">Endpoint URL</label>
        <input
          id="webhook-url"
          type="url"
          value={url}
          onChange={(e) => setUrl(e.target.value)}
          placeholder="https://example.com/hooks/proactivechat"
          data-testid="webhook-url"
          aria-invalid={errors.url ? true : undefined}
        />
        {errors.url && <span className="field-error" data-testid="field-error">{errors.url}</span>}
        <label htmlFor="webhook-types">Event types (comma-separated; empty for all)</label>
        <input
          id="webhook-types"
          value={types}
          onChange={(e) => setTypes(e.target.value)}
          placeholder="chat.started, chat.ended"
          data-testid="webhook-types"
          aria-invalid={errors.event_types ? true : undefined}
        />
        {errors.event_types && <span className="field-error" data-testid="field-error">{errors.event_types}</span>}
        <button type="submit" disabled={!url.trim() || create.isPending} data-testid="webhook-create">
          Add endpoint
        </button>
      </form>
      {create.error && !Object.keys(errors).length && (
        <p className="error-text" role="alert" data-testid="webhook-create-error">
          {errorText(create.error)}
        </p>
      )}
      {secret && (
        <p className="card" data-testid="webhook-secret" role="status">
          Signing secret, shown this once: <code>{secret}</code>
        </p>
      )}
    </>
  );
}

/** deliveryStatus is an attempt's outcome in a few words. */
export function deliveryStatus(d: WebhookDelivery): string {
  const latency = durMs(d.latency);
  const took = latency === undefined ? "" : ` in ${Math.round(latency)} ms`;
  if (d.success) return `${d.statusCode} OK${took}`;
  return `${d.statusCode ? `${d.statusCode}: ` : ""}${d.error}${took}`;
}

function Deliveries({ webhook }: { webhook: Webhook }) {
  const res = useQuery(AdminService.method.listWebhookDeliveries, { webhookId: webhook.id, pageSize: 20 }, { refetchInterval: 15_000 });
  const invalidate = useInvalidateWebhooks();
  const redeliver = useMutation(AdminService.method.redeliverWebhookEvent, { onSuccess: invalidate });
  const list = res.data?.deliveries ?? [];
  return (
    <section data-testid="webhook-deliveries">
      <h3>Recent deliveries to {webhook.url}</h3>
      {list.length === 0 ? (
        <p className="muted small">None yet.</p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Event</th>
              <th scope="col">Attempt</th>
              <th scope="col">Outcome</th>
              <th scope="col">Again</th>
            </tr>
          </thead>
          <tbody>
            {list.map((d, i) => (
              <tr key={`${d.eventId}-${d.attempt}-${i}`} data-testid="webhook-delivery">
                <td>{formatDateTime(tsMs(d.time))}</td>
                <td>
                  {d.eventType} <code className="small">{d.eventId}</code>
                </td>
                <td>{d.attempt}</td>
                <td>{deliveryStatus(d)}</td>
                <td>
                  {d.eventId.startsWith("evt_") && (
                    <button
                      type="button"
                      className="link"
                      data-testid="webhook-redeliver"
                      onClick={() => redeliver.mutate({ webhookId: webhook.id, eventId: d.eventId })}
                    >
                      Redeliver
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {redeliver.error && (
        <p className="error-text" role="alert">
          {errorText(redeliver.error)}
        </p>
      )}
    </section>
  );
}
