import { useQuery } from "@connectrpc/connect-query";
import type { ChatRating } from "../../../gen/proactivechat/v1/chat_pb";
import { AdminService } from "../../../gen/proactivechat/v1/admin_service_pb";
import { ChatService } from "../../../gen/proactivechat/v1/chat_service_pb";

/** stars draws a score of 1–5 as five stars, filled up to the score. */
export function stars(score: number): string {
  const n = Math.max(0, Math.min(5, Math.round(score)));
  return "\u2605".repeat(n) + "\u2606".repeat(5 - n);
}

/** RatingView shows the visitor's rating of a chat: stars, the score and the comment. */
export function RatingView({ rating }: { rating?: ChatRating }) {
  if (!rating) return null;
  return (
    <div className="rating" data-testid="chat-rating" data-score={rating.score}>
      <span className="muted small">Visitor's rating: </span>
      <span className="stars" aria-hidden="true">
        {stars(rating.score)}
      </span>
      <span className="sr-only">{rating.score} of 5 stars</span>
      <span className="small"> {rating.score}/5</span>
      {rating.comment && <blockquote className="rating-comment">{rating.comment}</blockquote>}
    </div>
  );
}

/**
 * EndedChatRating shows the rating in the tab of a chat the visitor has
 * left (or that ended). A rating is not
 * an event of the chat, so GetChat is asked again every 5 s until the
 * visitor has rated (or the tab closes).
 */
export function EndedChatRating({ chatId }: { chatId: string }) {
  const chat = useQuery(
    ChatService.method.getChat,
    { chatId },
    { refetchInterval: (q) => (q.state.data?.chat?.rating ? false : 5000) },
  );
  const rating = chat.data?.chat?.rating;
  if (!rating) return <p className="muted small" data-testid="chat-rating-none">The visitor has not rated this chat.</p>;
  return <RatingView rating={rating} />;
}

/** MyRating is the agent's own average rating, e.g. "4.6 ★ (23)", in the header. */
export function MyRating({ agentId }: { agentId: string }) {
  const sum = useQuery(AdminService.method.getRatingSummary, { agentId }, { refetchInterval: 60_000 });
  const s = sum.data?.summary;
  if (!s || s.count === 0) return null;
  return (
    <span
      className="my-rating small"
      data-testid="my-rating"
      title={`Your chats' ratings by visitors: ${s.counts.map((n, i) => `${i + 1}★ ${n}`).join(", ")}`}
    >
      {s.average.toFixed(1)} <span aria-hidden="true">{"\u2605"}</span>
      <span className="sr-only">average rating of your chats,</span> ({s.count})
    </span>
  );
}
