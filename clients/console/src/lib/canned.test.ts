import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CannedReplySchema } from "../../../gen/proactivechat/v1/site_pb";
import { fillPlaceholders, matchingReplies } from "./canned";

describe("fillPlaceholders", () => {
  it("fills in the names it knows and neutral words for the others", () => {
    const text = "Hi {visitor.name}, I am {agent.name} from {site.name}. {other} stays.";
    expect(fillPlaceholders(text, { visitorName: "Jane", agentName: "Dana", siteName: "Shoe shop" })).toBe(
      "Hi Jane, I am Dana from Shoe shop. {other} stays.",
    );
    expect(fillPlaceholders(text, { visitorName: " ", agentName: "", siteName: "" })).toBe(
      "Hi there, I am your agent from our site. {other} stays.",
    );
  });
});

describe("matchingReplies", () => {
  const replies = ["/price", "/prices-eu", "/hello"].map((shortcut) => create(CannedReplySchema, { shortcut }));
  it("matches by prefix while only a shortcut is typed", () => {
    expect(matchingReplies("/pr", replies).map((r) => r.shortcut)).toEqual(["/price", "/prices-eu"]);
    expect(matchingReplies("/", replies)).toHaveLength(3);
    expect(matchingReplies("/price please", replies)).toEqual([]);
    expect(matchingReplies("price", replies)).toEqual([]);
  });
});
