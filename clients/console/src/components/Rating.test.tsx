// @vitest-environment jsdom
import { create } from "@bufbuild/protobuf";
import { act } from "react";
import type { ReactNode } from "react";
import { createRoot } from "react-dom/client";
import { afterEach, describe, expect, it } from "vitest";
import { ChatRatingSchema } from "../../../gen/proactivechat/v1/chat_pb";
import { RatingView, stars } from "./Rating";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

function render(node: ReactNode) {
  const container = document.createElement("div");
  document.body.append(container);
  const root = createRoot(container);
  act(() => root.render(node));
  return {
    container,
    getByTestId: (id: string) => container.querySelector(`[data-testid="${id}"]`) as HTMLElement,
  };
}

afterEach(() => document.body.replaceChildren());

describe("RatingView", () => {
  it("shows the stars, the score for screen readers and the comment as text", () => {
    const { getByTestId } = render(
      <RatingView rating={create(ChatRatingSchema, { score: 4, comment: "<b>Kind</b>\nand quick" })} />,
    );
    const el = getByTestId("chat-rating");
    expect(el.dataset.score).toBe("4");
    expect(el.textContent).toContain("\u2605\u2605\u2605\u2605\u2606");
    expect(el.textContent).toContain("4 of 5 stars");
    expect(el.querySelector("blockquote")!.textContent).toBe("<b>Kind</b>\nand quick");
    expect(el.querySelector("b")).toBe(null);
  });

  it("shows nothing without a rating", () => {
    const { container } = render(<RatingView />);
    expect(container.textContent).toBe("");
  });

  it("draws whole stars within 0 to 5", () => {
    expect(stars(5)).toBe("\u2605".repeat(5));
    expect(stars(0)).toBe("\u2606".repeat(5));
    expect(stars(9)).toBe("\u2605".repeat(5));
  });
});
