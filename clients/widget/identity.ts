// Who the visitor is, as the page says: window.proactiveChatSettings.identity
// before the script loads, or ProactiveChat("identify", {...}) at any time
// (see PageAPI).

import type { VisitorIdentity } from "../gen/proactivechat/v1/visitor_pb";

/** IdentityInit is who the page says the visitor is, as the server takes it. */
export type IdentityInit = Partial<Pick<VisitorIdentity, "name" | "email" | "externalId" | "identityHash" | "attributes">>;

const str = (v: unknown) => (typeof v === "string" ? v : typeof v === "number" ? String(v) : "");

/** attributeText is an attribute value as the server takes it: text, numbers and booleans as text. */
const attributeText = (v: unknown) => (typeof v === "boolean" ? String(v) : str(v));

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
      if (v != null) attributes[k] = attributeText(v);
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

/** AttributeChange is what ProactiveChat("set") and ("unset") change: values to set, keys to remove. */
export interface AttributeChange {
  set: Record<string, string>;
  remove: string[];
}

/**
 * toAttributeChange reads ProactiveChat("set", {cart_value: 120}) and
 * ProactiveChat("unset", ["cart_value"]) (or "unset", "cart_value"):
 * values become text as in toIdentity, and setting null or undefined
 * removes the key. undefined when the page passed something else.
 */
export function toAttributeChange(command: "set" | "unset", arg: unknown): AttributeChange | undefined {
  if (command === "unset") {
    const keys = typeof arg === "string" ? [arg] : Array.isArray(arg) ? arg : undefined;
    if (!keys || !keys.every((k) => typeof k === "string")) return undefined;
    return { set: {}, remove: keys as string[] };
  }
  if (!arg || typeof arg !== "object" || Array.isArray(arg)) return undefined;
  const change: AttributeChange = { set: {}, remove: [] };
  for (const [k, v] of Object.entries(arg as Record<string, unknown>)) {
    if (v == null) change.remove.push(k);
    else change.set[k] = attributeText(v);
  }
  return change;
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
 *   ProactiveChat("set", { cart_value: 120 });   // set some attributes, keep the others
 *   ProactiveChat("unset", ["cart_value"]);      // remove some
 */
export interface PageAPI {
  proactiveChatSettings?: { identity?: unknown };
  ProactiveChat?: ((...call: Call) => void) & { q?: ArrayLike<Call> };
}

/** PageCommands are what the page's calls do. */
export interface PageCommands {
  identify(identity: IdentityInit): void;
  attributes(change: AttributeChange): void;
}

/** installPageAPI defines ProactiveChat on w and runs the calls queued before. */
export function installPageAPI(w: PageAPI, commands: PageCommands): void {
  const queued = Array.from(w.ProactiveChat?.q ?? []);
  const call = (...[command, arg]: Call) => {
    if (command === "identify") return commands.identify(toIdentity(arg) ?? {});
    if (command === "set" || command === "unset") {
      const change = toAttributeChange(command, arg);
      if (change) commands.attributes(change);
      else
        console.warn(
          command === "set"
            ? 'proactive chat: "set" takes an object of attributes, e.g. ProactiveChat("set", { cart_value: 120 })'
            : 'proactive chat: "unset" takes a list of attribute keys, e.g. ProactiveChat("unset", ["cart_value"])',
        );
      return;
    }
    console.warn(`proactive chat: unknown command ${JSON.stringify(command)}`);
  };
  w.ProactiveChat = call;
  for (const c of queued) call(...c);
}
