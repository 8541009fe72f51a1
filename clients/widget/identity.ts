// Who the visitor is, as the page says: window.proactiveChatSettings.identity
// before the script loads, or ProactiveChat("identify", {...}) at any time
// (see PageAPI).

import type { VisitorIdentity } from "../gen/proactivechat/v1/visitor_pb";

/** IdentityInit is who the page says the visitor is, as the server takes it. */
export type IdentityInit = Partial<Pick<VisitorIdentity, "name" | "email" | "externalId" | "identityHash" | "attributes">>;

const str = (v: unknown) => (typeof v === "string" ? v : typeof v === "number" ? String(v) : "");

/**
 * toIdentity keeps, of what the page passed, the fields the server knows,
 * as strings (attribute values that are numbers or booleans become text);
 * undefined when the page passed no object. The server checks the rest.
 */
export function toIdentity(init: unknown): IdentityInit | undefined {
  if (!init || typeof init !== "object") return undefined;
  const i = init as Record<string, unknown>;
  const attributes: Record<string, string> = {};
  if (i.attributes && typeof i.attributes === "object") {
    for (const [k, v] of Object.entries(i.attributes as Record<string, unknown>)) {
      if (v != null) attributes[k] = typeof v === "boolean" ? String(v) : str(v);
    }
  }
  return {
    name: str(i.name),
    email: str(i.email),
    externalId: str(i.externalId ?? i.external_id),
    identityHash: str(i.identityHash ?? i.identity_hash),
    attributes,
  };
}

type Call = [command: string, ...args: unknown[]];

/**
 * PageAPI is what the page sees on window, Intercom-style: settings set
 * before the script loads, and a function to call after (calls made
 * before, with the usual stub that queues them in ProactiveChat.q, are
 * run once it loads):
 *
 *   window.proactiveChatSettings = { identity: { name, email, externalId, identityHash, attributes } };
 *   ProactiveChat("identify", { name: "Jane Doe", email: "jane@example.com" });
 */
export interface PageAPI {
  proactiveChatSettings?: { identity?: unknown };
  ProactiveChat?: ((...call: Call) => void) & { q?: ArrayLike<Call> };
}

/** installPageAPI defines ProactiveChat on w and runs the calls queued before. */
export function installPageAPI(w: PageAPI, identify: (identity: IdentityInit) => void): void {
  const queued = Array.from(w.ProactiveChat?.q ?? []);
  const call = (...[command, arg]: Call) => {
    if (command === "identify") identify(toIdentity(arg) ?? {});
    else console.warn(`proactive chat: unknown command ${JSON.stringify(command)}`);
  };
  w.ProactiveChat = call;
  for (const c of queued) call(...c);
}
