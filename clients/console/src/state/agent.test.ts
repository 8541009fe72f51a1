import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { AgentSchema, AgentStatus } from "../../../gen/proactivechat/v1/agent_pb";
import type { WatchAgentResponse } from "../../../gen/proactivechat/v1/agent_service_pb";
import { WatchAgentResponseSchema } from "../../../gen/proactivechat/v1/agent_service_pb";
import type { ChatRequest } from "../../../gen/proactivechat/v1/engagement_pb";
import { ChatRequestSchema, ChatRequestState } from "../../../gen/proactivechat/v1/engagement_pb";
import { agentReducer, initialAgentView } from "./agent";
import type { AgentView } from "./agent";

const agent = create(AgentSchema, { id: "agent_a", status: AgentStatus.AVAILABLE, activeChatIds: [] });
const req = (id: string, t: number, state = ChatRequestState.QUEUED, alertedAgentId = ""): ChatRequest =>
  create(ChatRequestSchema, { id, siteId: "s", visitorId: `v_${id}`, state, enqueueTime: timestampFromMs(t), alertedAgentId });
const ev = (event: WatchAgentResponse["event"]) => create(WatchAgentResponseSchema, { event } as never);

function apply(state: AgentView, ...events: WatchAgentResponse[]): AgentView {
  return events.reduce((s, e) => agentReducer(s, { type: "event", event: e }), state);
}

describe("agentReducer", () => {
  const snapshot = ev({
    case: "snapshot",
    value: {
      agent,
      queue: [req("r2", 2000), req("r1", 1000), req("r3", 3000, ChatRequestState.ALERTING, "agent_a")],
      alerts: [{ chatRequest: req("r3", 3000, ChatRequestState.ALERTING, "agent_a"), reason: "idle" }],
    },
  } as never);

  it("takes the snapshot as the whole truth, queue oldest first", () => {
    const s = apply({ ...initialAgentView, queue: [req("stale", 0)] }, snapshot);
    expect(s.agent?.id).toBe("agent_a");
    expect(s.queue.map((r) => r.id)).toEqual(["r1", "r2", "r3"]);
    expect(s.alerts.map((a) => a.chatRequest?.id)).toEqual(["r3"]);
  });

  it("adds alerts, removes withdrawn ones and tells why when the agent did not answer", () => {
    let s = apply(initialAgentView, snapshot);
    s = apply(s, ev({ case: "alert", value: { chatRequest: req("r1", 1000, ChatRequestState.ALERTING, "agent_a") } } as never));
    expect(s.alerts.map((a) => a.chatRequest?.id)).toEqual(["r1", "r3"]);
    s = apply(s, ev({ case: "alertWithdrawn", value: { chatRequestId: "r3", reason: "expired" } } as never));
    expect(s.alerts.map((a) => a.chatRequest?.id)).toEqual(["r1"]);
    expect(s.withdrawn).toEqual({ chatRequestId: "r3", reason: "expired" });
    s = agentReducer(s, { type: "dismissWithdrawn" });
    s = apply(s, ev({ case: "alertWithdrawn", value: { chatRequestId: "r1", reason: "accepted" } } as never));
    expect(s.alerts).toEqual([]);
    expect(s.withdrawn).toBeUndefined();
  });

  it("keeps the queue to open requests and drops alerts no longer offered to this agent", () => {
    let s = apply(initialAgentView, snapshot);
    s = apply(s, ev({ case: "queueChanged", value: req("r4", 500) } as never));
    expect(s.queue.map((r) => r.id)).toEqual(["r4", "r1", "r2", "r3"]);
    s = apply(s, ev({ case: "queueChanged", value: req("r1", 1000, ChatRequestState.ACCEPTED) } as never));
    s = apply(s, ev({ case: "queueChanged", value: req("r2", 2000, ChatRequestState.ABANDONED) } as never));
    expect(s.queue.map((r) => r.id)).toEqual(["r4", "r3"]);
    // r3 moved on to another agent before its alert_withdrawn arrived.
    s = apply(s, ev({ case: "queueChanged", value: req("r3", 3000, ChatRequestState.ALERTING, "agent_b") } as never));
    expect(s.alerts).toEqual([]);
    expect(s.queue.map((r) => r.id)).toEqual(["r4", "r3"]);
  });

  it("follows the agent and forgets alerts the agent answered", () => {
    let s = apply(initialAgentView, snapshot);
    s = apply(s, ev({ case: "agentChanged", value: { ...agent, status: AgentStatus.AWAY, activeChatIds: ["c1"] } } as never));
    expect(s.agent?.status).toBe(AgentStatus.AWAY);
    expect(s.agent?.activeChatIds).toEqual(["c1"]);
    s = agentReducer(s, { type: "answered", chatRequestId: "r3" });
    expect(s.alerts).toEqual([]);
    const same = apply(s, ev({ case: "keepAlive", value: {} } as never));
    expect(same).toBe(s);
  });
});
