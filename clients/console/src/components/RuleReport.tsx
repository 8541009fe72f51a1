import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { useQuery } from "@connectrpc/connect-query";
import { useMemo, useState } from "react";
import { AdminService } from "../../../gen/proactivechat/v1/admin_service_pb";
import type { TriggerRule } from "../../../gen/proactivechat/v1/site_pb";
import { errorText } from "../lib/errors";
import type { FunnelRange } from "../lib/funnel";
import { funnelRangeLabels, funnelStartMs } from "../lib/funnel";
import { ruleReportRows, ruleSteps } from "../lib/ruleReport";
import { durMs, formatDuration } from "../lib/time";

const rate = (p: number | undefined) => (p === undefined ? "—" : `${p}%`);

/**
 * RuleReport is each trigger rule's funnel (GetTriggerRuleReport) over
 * today, the last 7 or 30 days, drawn like the site's funnel: a row per
 * rule with its variants as sub-rows, a bar per step (relative to the
 * row's largest), and beside "Chatted" the control group's — held-out
 * visitors who chatted anyway — so the rule's effect reads at a glance.
 * It is a table, so that a screen reader reads the numbers the bars draw.
 */
export function RuleReport({ siteId, rules }: { siteId: string; rules: readonly TriggerRule[] }) {
  const [range, setRange] = useState<FunnelRange>("7d");
  const startTime = useMemo(() => timestampFromMs(funnelStartMs(range, Date.now())), [range]);
  const res = useQuery(AdminService.method.getTriggerRuleReport, { siteId, startTime }, { refetchInterval: 60_000 });
  const report = res.data?.report;
  const rows = ruleReportRows(report, rules);
  const wait = durMs(report?.predictedWait);
  return (
    <section className="funnel rule-report" aria-labelledby="rule-report-title" data-testid="rule-report">
      <h3 id="rule-report-title">Trigger rules: funnel per rule</h3>
      <div className="funnel-ranges" role="radiogroup" aria-label="Range of the rules' funnel">
        {(Object.keys(funnelRangeLabels) as FunnelRange[]).map((r) => (
          <label key={r}>
            <input
              type="radio"
              name={`rule-report-range-${siteId}`}
              value={r}
              checked={range === r}
              onChange={() => setRange(r)}
              data-testid={`rule-report-range-${r}`}
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
      {rows.length === 0 ? (
        <p className="muted small">No rules yet.</p>
      ) : (
        <div className="table-scroll">
          <table className="table funnel-table rule-funnel">
            <caption className="sr-only">
              Funnel of each trigger rule and variant over the last {funnelRangeLabels[range].toLowerCase()}; the control
              group's chats are beside Chatted
            </caption>
            <thead>
              <tr>
                <th scope="col">Rule</th>
                {ruleSteps.map((s) => (
                  <th scope="col" className="num" key={s.step}>
                    {s.label}
                  </th>
                ))}
                <th scope="col" className="num">
                  Chat rate
                </th>
                <th scope="col" className="num">
                  Control group
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr
                  key={`${r.ruleId}/${r.variantId}`}
                  className={r.variantId ? "sub-row" : undefined}
                  data-testid="rule-report-row"
                  data-rule-id={r.ruleId}
                  data-variant-id={r.variantId || undefined}
                >
                  <th scope="row">{r.label}</th>
                  {ruleSteps.map((s) => (
                    <td className="num" key={s.step} data-step={s.step}>
                      {r.counts[s.step]}
                      {s.step === "chatted" && !r.variantId && (
                        <span className="muted held-out" data-testid="held-out-chatted">
                          {" "}
                          (held out: {r.heldOutChatted})
                        </span>
                      )}
                      <div className="funnel-bar mini" aria-hidden="true" style={{ width: `${r.widthPct[s.step]}%` }} />
                    </td>
                  ))}
                  <td className="num" data-testid="chat-rate">
                    {rate(r.chatRatePct)}
                  </td>
                  <td className="num" data-testid="control-chat-rate">
                    {r.variantId ? "" : rate(r.controlChatRatePct)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p className="muted small">
        Chat rate: chats per visitor approached (matched but not held out). Control group: chats per held-out visitor, who
        chatted all the same (the launcher).{" "}
        {wait === undefined ? "" : `The site's predicted wait now: ${formatDuration(wait)}.`}
      </p>
    </section>
  );
}
