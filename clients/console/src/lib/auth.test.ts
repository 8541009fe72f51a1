import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import type { SignInResponse } from "../../../gen/proactivechat/v1/agent_service_pb";
import type { KeyValueStorage } from "./agentId";
import { Auth, needsAdminKey } from "./auth";

function memory(): KeyValueStorage & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

const signIn = (expireMs: number) =>
  ({ agent: { id: "agent_a" }, session: { agentId: "agent_a", expireTime: timestampFromMs(expireMs) }, token: "pcs_x" }) as unknown as SignInResponse;

describe("Auth", () => {
  it("keeps the session in its storage until it expires or ends", () => {
    const s = memory();
    new Auth(s, () => 1000).signedIn(signIn(5000));
    expect(new Auth(s, () => 4999).state().session).toEqual({ agentId: "agent_a", token: "pcs_x", expireMs: 5000 });
    // Expired: dropped when the console loads.
    expect(new Auth(s, () => 5000).state().session).toBeUndefined();
    expect(s.data.size).toBe(0);

    const a = new Auth(s, () => 1000);
    a.signedIn(signIn(5000));
    let changes = 0;
    a.subscribe(() => changes++);
    a.end("why");
    expect(a.state()).toMatchObject({ session: undefined, ended: "why" });
    expect(changes).toBe(1);
    expect(new Auth(s, () => 1000).state().session).toBeUndefined();
  });

  it("keeps the admin API key for the tab; garbage in storage is no session", () => {
    const s = memory();
    s.setItem("proactivechat.console.session", "{not json");
    const a = new Auth(s);
    expect(a.state().session).toBeUndefined();
    a.setAdminKey("pca_k");
    expect(new Auth(s).state().adminKey).toBe("pca_k");
    a.setAdminKey("");
    expect(new Auth(s).state().adminKey).toBe("");
  });

  it("works without storage", () => {
    const a = new Auth(undefined);
    a.signedIn(signIn(Date.now() + 60_000));
    expect(a.state().session?.token).toBe("pcs_x");
  });
});

describe("needsAdminKey", () => {
  it("is for the AdminService calls an agent may not make", () => {
    expect(needsAdminKey("proactivechat.v1.AdminService", "UpdateSite")).toBe(true);
    expect(needsAdminKey("proactivechat.v1.AdminService", "ListApiKeys")).toBe(true);
    for (const m of ["ListSites", "GetSite", "ListRoutingDecisions", "ListOnlineVisitors", "ListQueue", "GetAgent", "ListCannedReplies"]) {
      expect(needsAdminKey("proactivechat.v1.AdminService", m)).toBe(false);
    }
    expect(needsAdminKey("proactivechat.v1.AgentService", "SetAgentStatus")).toBe(false);
    expect(needsAdminKey("proactivechat.v1.ChatService", "SendMessage")).toBe(false);
  });
});
