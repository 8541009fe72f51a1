import { describe, expect, it } from "vitest";
import type { KeyValueStorage } from "./agentId";
import { forgetAgentId, initialAgentId, rememberAgentId } from "./agentId";

function memory(): KeyValueStorage & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

describe("initialAgentId", () => {
  it("takes ?agent= first and remembers it", () => {
    const s = memory();
    rememberAgentId("agent_old", s);
    expect(initialAgentId("?agent=agent_demo", s)).toBe("agent_demo");
    expect(initialAgentId("", s)).toBe("agent_demo");
  });
  it("falls back to the remembered id, else asks", () => {
    const s = memory();
    expect(initialAgentId("", s)).toBeUndefined();
    expect(initialAgentId("?agent=", s)).toBeUndefined();
    rememberAgentId("agent_7", s);
    expect(initialAgentId("?x=1", s)).toBe("agent_7");
    forgetAgentId(s);
    expect(initialAgentId("", s)).toBeUndefined();
  });
  it("works without storage", () => {
    expect(initialAgentId("?agent=a1", undefined)).toBe("a1");
    expect(initialAgentId("", undefined)).toBeUndefined();
  });
});
