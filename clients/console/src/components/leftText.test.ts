// @vitest-environment jsdom
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ChatEventSchema, ParticipantRole, type ChatEvent } from "../../../gen/proactivechat/v1/chat_pb";
import { leftText } from "./Chats";

const visitor = { id: "visitor_1", role: ParticipantRole.VISITOR, displayName: "Visitor" };
const agent = { id: "agent_demo", role: ParticipantRole.AGENT, displayName: "Dana" };

function left(seq: number, participant: typeof visitor, ms: number): ChatEvent {
  return create(ChatEventSchema, {
    chatId: "chat_1",
    seq,
    time: timestampFromMs(ms),
    kind: { case: "participantLeft", value: { participant } },
  });
}

describe("leftText", () => {
  it("an agent taken out with a visitor who closed before writing did not leave: the chat closed for them", () => {
    const byVisitor = left(2, visitor, 1_000);
    const agentOut = left(3, agent, 1_000);
    expect(leftText(byVisitor, agent.id)).toBe("The visitor left the chat");
    expect(leftText(agentOut, agent.id, byVisitor)).toBe("The chat closed for you too");
    // Another agent reading the transcript.
    expect(leftText(agentOut, "agent_other", byVisitor)).toBe("The chat closed for the agent too");
  });

  it("an agent who left by themselves left", () => {
    const byVisitor = left(2, visitor, 1_000);
    expect(leftText(left(3, agent, 61_000), agent.id, byVisitor)).toBe("You left the chat");
    expect(leftText(left(2, agent, 1_000), agent.id)).toBe("You left the chat");
    expect(leftText(left(2, agent, 1_000), "agent_other")).toBe("The agent left the chat");
  });
});
