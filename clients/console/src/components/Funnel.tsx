import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { useQuery } from "@connectrpc/connect-query";
import { useMemo, useState } from "react";
import { AdminService } from "../../../gen/proactivechat/v1/admin_service_pb";
import { endReasonLabel } from "../labels";
import { errorText } from "../lib/errors";
import type { FunnelRange } from "../lib/funnel";
import { funnelAside, funnelRangeLabels, funnelRows, funnelStartMs } from "../lib/funnel";
import { durMs, formatDuration } from "../lib/time";

/**
 * FunnelChart shows a site's proactive funnel (GetFunnel) over today, the
 * last 7 or the last 30 days: one bar per step with its count and the
 * conversion from the step above, as a table so that a screen reader
 * reads the numbers the bars draw.
 */
export function FunnelChart({ siteId }: { siteId: string }) {
  const [range, setRange] = useState<FunnelRange>("7d");
  // Fixed when the range is picked; the end is the server's now.
  const startTime = useMemo(() => timestampFromMs(funnelStartMs(range, Date.now())), [range]);
  const res = useQuery(AdminService.method.getFunnel, { siteId, startTime }, { refetchInterval: 60_000 });
  const f = res.data?.funnel;
  const rows = funnelRows(f);
  const aside = funnelAside(f);
  const p50 = durMs(f?.waitP50);
  const p90 = durMs(f?.waitP90);
  return (
    <section className="funnel" aria-labelledby="funnel-title" data-testid="funnel">
      <h3 id="funnel-title">Proactive funnel</h3>
      <div className="funnel-ranges" role="radiogroup" aria-label="Range">
        {(Object.keys(funnelRangeLabels) as FunnelRange[]).map((r) => (
          <label key={r}>
            <input
              type="radio"
              name={`funnel-range-${siteId}`}
              value={r}
              checked={range === r}
              onChange={() => setRange(r)}
              data-testid={`funnel-range-${r}`}
            />{" "}
            {funnelRangeLabels[r]}
          </label>
        ))}
      </div>
      {res.error && (
        <p className="error-text" role="alert">
          {errorText(res.error)}
        </p>
      )}
      <table className="table funnel-table">
        <caption className="sr-only">
          Proactive funnel of the last {funnelRangeLabels[range].toLowerCase()}: each step's count and its share of
          the step above
        </caption>
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col" className="num">
              Count
            </th>
            <th scope="col" className="num">
              Of above
            </th>
            <th scope="col" aria-hidden="true" className="funnel-bar-col" />
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.step} data-testid="funnel-step" data-step={r.step} data-count={r.count}>
              <th scope="row">{r.label}</th>
              <td className="num">{r.count}</td>
              <td className="num">{r.conversionPct === undefined ? "—" : `${r.conversionPct}%`}</td>
              <td aria-hidden="true" className="funnel-bar-col">
                <div className="funnel-bar" style={{ width: `${r.widthPct}%` }} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted small" data-testid="funnel-aside">
        {aside.map((a) => `${a.label}: ${a.count}`).join(" · ")}
        {(f?.ends ?? []).map((e) => ` · Chats ended, ${endReasonLabel(e.reason)}: ${Number(e.count)}`).join("")}
      </p>
      <p className="muted small" data-testid="funnel-wait">
        {p50 === undefined
          ? "Wait to an agent: no chat accepted in this range."
          : `Wait to an agent: median up to ${formatDuration(p50)}, 90% up to ${formatDuration(p90 ?? p50)} (of ${Number(f?.waitCount ?? 0n)}).`}
      </p>
    </section>
  );
}
