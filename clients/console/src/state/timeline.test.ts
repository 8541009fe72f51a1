// @vitest-environment jsdom
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ChatEventSchema, ChatNoteSchema } from "../../../gen/proactivechat/v1/chat_pb";
import { timeline } from "./chats";

const ev = (seq: number, ms: number) =>
  create(ChatEventSchema, { chatId: "c", seq, time: timestampFromMs(ms), kind: { case: "started", value: {} } });
const note = (seq: number, ms: number) => create(ChatNoteSchema, { chatId: "c", seq, time: timestampFromMs(ms), text: `n${seq}` });

describe("timeline with notes", () => {
  it("puts notes among the events by time, after the events of their instant", () => {
    const items = timeline([ev(1, 1000), ev(2, 3000), ev(3, 5000)], [], [note(1, 3000), note(2, 4000), note(3, 9000)]);
    expect(items.map((i) => (i.kind === "note" ? `n${i.note.seq}` : i.kind === "event" ? `e${i.ev.seq}` : "w"))).toEqual(["e1", "e2", "n1", "n2", "e3", "n3"]);
    const e3 = items[4];
    expect(e3.kind === "event" && e3.prev?.seq).toBe(2);
  });
});
