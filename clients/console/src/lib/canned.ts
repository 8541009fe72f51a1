import type { CannedReply } from "../../../gen/proactivechat/v1/site_pb";

/** CannedContext is what a canned reply's placeholders are filled in with; empty when unknown. */
export interface CannedContext {
  visitorName: string;
  agentName: string;
  siteName: string;
}

/** The words used for a placeholder whose value is unknown. */
export const placeholderFallbacks = { "visitor.name": "there", "agent.name": "your agent", "site.name": "our site" } as const;

/**
 * fillPlaceholders replaces {visitor.name}, {agent.name} and {site.name}
 * with their values, or a neutral word when a value is unknown ("Hi
 * {visitor.name}" is "Hi there" for a visitor with no name). Other braces
 * stay as they are.
 */
export function fillPlaceholders(text: string, c: CannedContext): string {
  const values: Record<string, string> = {
    "visitor.name": c.visitorName.trim() || placeholderFallbacks["visitor.name"],
    "agent.name": c.agentName.trim() || placeholderFallbacks["agent.name"],
    "site.name": c.siteName.trim() || placeholderFallbacks["site.name"],
  };
  return text.replace(/\{(visitor\.name|agent\.name|site\.name)\}/g, (_, key: string) => values[key]);
}

/**
 * matchingReplies lists the replies whose shortcut starts with what the
 * agent typed, while the message box holds only "/" and a shortcut's
 * characters; none otherwise.
 */
export function matchingReplies(input: string, replies: CannedReply[]): CannedReply[] {
  if (!/^\/[a-z0-9_-]*$/.test(input)) return [];
  return replies.filter((r) => r.shortcut.startsWith(input));
}
