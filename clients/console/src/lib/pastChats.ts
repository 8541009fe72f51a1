import type { KeyValueStorage } from "./agentId";

/** PastChat is a chat this console took part in, kept for the transcripts list. */
export interface PastChat {
  chatId: string;
  visitorId: string;
  siteId: string;
  createTimeMs: number;
}

const MAX = 100;
const key = (agentId: string) => `proactivechat.console.chats.${agentId}`;

export function loadPastChats(agentId: string, storage: KeyValueStorage | undefined): PastChat[] {
  try {
    const raw = storage?.getItem(key(agentId));
    const list = raw ? (JSON.parse(raw) as unknown) : [];
    return Array.isArray(list)
      ? list.filter((c): c is PastChat => typeof c === "object" && c !== null && typeof c.chatId === "string")
      : [];
  } catch {
    return [];
  }
}

/** addPastChat puts a chat first in the list (once) and keeps the newest MAX. */
export function addPastChat(list: PastChat[], chat: PastChat): PastChat[] {
  const rest = list.filter((c) => c.chatId !== chat.chatId);
  return [chat, ...rest].sort((a, b) => b.createTimeMs - a.createTimeMs).slice(0, MAX);
}

export function savePastChats(agentId: string, list: PastChat[], storage: KeyValueStorage | undefined): void {
  try {
    storage?.setItem(key(agentId), JSON.stringify(list));
  } catch {
    // ignore a full or disabled storage
  }
}
