export const DEMO_AGENT_ID = "agent_demo";
const STORAGE_KEY = "proactivechat.console.agentId";

/** Storage is the part of window.localStorage the console uses. */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function safeStorage(): KeyValueStorage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined; // disabled storage (privacy mode, sandboxed iframe)
  }
}

/**
 * initialAgentId decides whose console this is until sign-in exists: the
 * ?agent= query parameter wins (and is remembered), then the remembered id.
 * undefined means the console must ask.
 */
export function initialAgentId(search: string, storage: KeyValueStorage | undefined): string | undefined {
  const fromQuery = new URLSearchParams(search).get("agent")?.trim();
  if (fromQuery) {
    rememberAgentId(fromQuery, storage);
    return fromQuery;
  }
  try {
    return storage?.getItem(STORAGE_KEY)?.trim() || undefined;
  } catch {
    return undefined;
  }
}

export function rememberAgentId(id: string, storage: KeyValueStorage | undefined): void {
  try {
    storage?.setItem(STORAGE_KEY, id);
  } catch {
    // storage full or disabled: the id lasts for this page only
  }
}

export function forgetAgentId(storage: KeyValueStorage | undefined): void {
  try {
    storage?.removeItem(STORAGE_KEY);
  } catch {
    // ignore
  }
}
