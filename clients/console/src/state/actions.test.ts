import { create } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { AgentStatus } from "../../../gen/proactivechat/v1/agent_pb";
import { AlertSchema } from "../../../gen/proactivechat/v1/agent_service_pb";
import { ChatEventSchema, ParticipantRole } from "../../../gen/proactivechat/v1/chat_pb";
import { ChatRequestSchema, ChatRequestState } from "../../../gen/proactivechat/v1/engagement_pb";
import { alertedLabel, alertedMe, alertLine, composerBlock, startChatHint, visitorAction } from "./actions";
import type { AgentView } from "./agent";
import type { ChatTab } from "./chats";

const req = (id: string, visitorId: string, extra: Omit<MessageInitShape<typeof ChatRequestSchema>, "$typeName"> = {}) =>
  create(ChatRequestSchema, { id, visitorId, siteId: "site_1", state: ChatRequestState.QUEUED, enqueueTime: timestampFromMs(1), ...extra });

describe("startChatHint", () => {
  it("lets only an Available agent start chats, and says why not otherwise", () => {
    expect(startChatHint(AgentStatus.AVAILABLE)).toBeUndefined();
    expect(startChatHint(AgentStatus.OFFLINE)).toMatch(/Offline.*Available/);
    expect(startChatHint(AgentStatus.AWAY)).toMatch(/Away.*Available/);
    expect(startChatHint(undefined)).toBeDefined();
  });
});

describe("one action per visitor", () => {
  const alerted = req("req_a", "visitor_a", { state: ChatRequestState.ALERTING, alertedAgentId: "agent_me" });
  const queued = req("req_q", "visitor_q");
  const view: AgentView = {
    queue: [alerted, queued],
    alerts: [create(AlertSchema, { chatRequest: alerted, reason: "longest idle (41s); 1 candidate(s)" })],
  };
  it("is the alert's Accept, else the queue's Take chat, else Start chat", () => {
    expect(visitorAction("visitor_a", view)).toBe("alert");
    expect(visitorAction("visitor_q", view)).toBe("queue");
    expect(visitorAction("visitor_x", view)).toBe("start");
  });
  it("hides Take chat for an entry that is alerting this agent", () => {
    expect(alertedMe(alerted, view, "agent_me")).toBe(true);
    expect(alertedMe(queued, view, "agent_me")).toBe(false);
    const other = req("req_o", "visitor_o", { state: ChatRequestState.ALERTING, alertedAgentId: "agent_osk7" });
    expect(alertedMe(other, view, "agent_me")).toBe(false);
  });
});

describe("alertedLabel", () => {
  it("names a colleague, never by internal id", () => {
    const r = req("r", "v", { state: ChatRequestState.ALERTING, alertedAgentId: "agent_osk7x", alertedAgentName: "Olga" });
    expect(alertedLabel(r, "agent_me")).toBe("Olga");
    expect(alertedLabel({ ...r, alertedAgentName: "" }, "agent_me")).toBe("another agent");
    expect(alertedLabel(r, "agent_osk7x")).toBe("you");
  });
});

describe("alertLine", () => {
  it("is a plain line without routing internals", () => {
    const a = create(AlertSchema, {
      chatRequest: req("r", "v", { page: { url: "https://shop.example/pricing", title: "Pricing" } }),
      reason: "longest idle (41s), 3 of 3 chats free; 1 candidate(s)",
    });
    expect(alertLine(a, "Demo shop", 24_100)).toBe("A visitor on Pricing is waiting — 0:25 left");
    expect(alertLine(create(AlertSchema, { chatRequest: req("r", "v") }), "Demo shop", undefined)).toBe(
      "A visitor on Demo shop is waiting",
    );
  });
});

describe("composerBlock", () => {
  const tab = (events: ChatTab["events"], ended = false): ChatTab => ({
    id: "chat_1",
    events,
    streamSeq: 0,
    historySeq: 0,
    unread: 0,
    typingUntil: 0,
    outbox: [],
    ended,
    whispers: [],
    notes: [],
  });
  it("closes the message box once the visitor has left, or the chat ended", () => {
    expect(composerBlock(tab([]))).toBeUndefined();
    const agentLeft = create(ChatEventSchema, {
      seq: 2,
      kind: { case: "participantLeft", value: { participant: { role: ParticipantRole.AGENT, id: "agent_me" } } },
    });
    expect(composerBlock(tab([agentLeft]))).toBeUndefined();
    const visitorLeft = create(ChatEventSchema, {
      seq: 3,
      kind: { case: "participantLeft", value: { participant: { role: ParticipantRole.VISITOR, id: "visitor_1" } } },
    });
    expect(composerBlock(tab([visitorLeft]))).toMatch(/visitor has left/);
    expect(composerBlock(tab([], true))).toBeDefined();
  });
});
