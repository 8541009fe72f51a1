import type { PageSnapshot } from "../../../gen/proactivechat/v1/engagement_pb";
import type { FormField } from "../../../gen/proactivechat/v1/site_pb";
import type { PageView, VisitorIdentity } from "../../../gen/proactivechat/v1/visitor_pb";
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

/**
 * IdentityDetails shows who the page or the form says a visitor is, beyond
 * the name in the heading: e-mail, the site's id for them, attributes. All
 * of it is marked unverified unless the site's backend signed the id.
 */
export function IdentityDetails({ identity }: { identity?: VisitorIdentity }) {
  if (!identity) return null;
  const attrs = Object.entries(identity.attributes).sort(([a], [b]) => a.localeCompare(b));
  if (!identity.email && !identity.externalId && attrs.length === 0) return null;
  return (
    <div className="identity" data-testid="visitor-identity">
      {identity.email && <span>{identity.email}</span>}
      {identity.externalId && <span className="muted"> · id {identity.externalId}</span>}{" "}
      {identity.verified ? (
        <span className="tag verified-tag" title="The site's backend signed this id (identity verification)">
          verified
        </span>
      ) : (
        <span className="tag muted-tag" title="What the page or the visitor said; nothing vouches for it">
          unverified
        </span>
      )}
      {attrs.length > 0 && (
        <dl className="form-values" data-testid="visitor-attributes">
          {attrs.map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
      )}
    </div>
  );
}
