import { describe, expect, it } from "vitest";
import type { KeyValueStorage } from "./agentId";
import { rememberAgentId } from "./agentId";
import { initialSignIn, rememberSignIn, signInRequest, wrongCredentials } from "./signin";

function memory(): KeyValueStorage {
  const data = new Map<string, string>();
  return {
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

describe("sign-in by e-mail", () => {
  it("asks for an e-mail by default, and remembers the one used", () => {
    const s = memory();
    expect(initialSignIn("", s)).toEqual({ by: "login", value: "" });
    rememberSignIn({ by: "login", value: " dana@shop.example " }, s);
    expect(initialSignIn("", s)).toEqual({ by: "login", value: "dana@shop.example" });
  });
  it("keeps ?agent= as a fallback, and an id an older console remembered", () => {
    const s = memory();
    expect(initialSignIn("?agent=agent_demo", s)).toEqual({ by: "agentId", value: "agent_demo" });
    const old = memory();
    rememberAgentId("agent_7", old);
    expect(initialSignIn("", old)).toEqual({ by: "agentId", value: "agent_7" });
    // Signing in by e-mail replaces the remembered id.
    rememberSignIn({ by: "login", value: "eli" }, old);
    expect(initialSignIn("", old)).toEqual({ by: "login", value: "eli" });
  });
  it("sends login or agent_id, never both, and only when complete", () => {
    expect(signInRequest({ by: "login", value: " Dana@Shop.example" }, "pw")).toEqual({ login: "Dana@Shop.example", password: "pw" });
    expect(signInRequest({ by: "agentId", value: "agent_demo" }, "pw")).toEqual({ agentId: "agent_demo", password: "pw" });
    expect(signInRequest({ by: "login", value: "" }, "pw")).toBeUndefined();
    expect(signInRequest({ by: "login", value: "dana" }, "")).toBeUndefined();
  });
  it("says what was wrong in the words of the form", () => {
    expect(wrongCredentials({ by: "login", value: "x" })).toBe("Wrong e-mail or password.");
    expect(wrongCredentials({ by: "agentId", value: "x" })).toBe("Wrong agent id or password.");
  });
});
