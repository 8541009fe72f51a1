import type { PageSnapshot } from "../../../gen/proactivechat/v1/engagement_pb";
import type { FormField } from "../../../gen/proactivechat/v1/site_pb";
import type { PageView } from "../../../gen/proactivechat/v1/visitor_pb";
import { safeHttpUrl } from "../labels";

/** PageLink shows a visitor's page: its title, linking to the URL when it is http(s). */
export function PageLink({ page }: { page: PageView | PageSnapshot }) {
  const href = safeHttpUrl(page.url);
  const title = page.title || page.url;
  return (
    <span className="page-link" title={page.url}>
      {href ? (
        <a href={href} target="_blank" rel="noopener noreferrer">
          {title}
        </a>
      ) : (
        title
      )}
      {page.title && <span className="url"> {page.url}</span>}
    </span>
  );
}

/**
 * FormValues shows the data-collection form a visitor sent, labelled and
 * ordered as the site's form (keys the form no longer has come last).
 */
export function FormValues({ values, fields = [] }: { values: { [key: string]: string }; fields?: FormField[] }) {
  const order = new Map(fields.map((f, i) => [f.key, i]));
  const label = new Map(fields.map((f) => [f.key, f.label]));
  const entries = Object.entries(values).sort(
    ([a], [b]) => (order.get(a) ?? 1e9) - (order.get(b) ?? 1e9) || a.localeCompare(b),
  );
  if (entries.length === 0) return null;
  return (
    <dl className="form-values" data-testid="form-values">
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{label.get(k) || k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
