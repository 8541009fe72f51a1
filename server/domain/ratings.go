package domain

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Ratings: once a chat ended, or its visitor left it, the visitor may rate
// it, once. The rating is kept on the chat record, not as a chat event: a
// chat's events end with ChatEnded for good, and the widget resumes a chat
// by its events. Summaries come from counters per site and per agent and
// site, per UTC day, which the store adds to in the transaction that stores
// the rating; they are statistics without personal data, so deleting a
// rated chat (retention, erasure) leaves them as they are.

// MaxRatingComment is the longest rating comment, in characters.
const MaxRatingComment = 1000

// RatingCounts counts ratings by score: [i] is how many scored i+1.
type RatingCounts [5]uint32

// RatingSummary is what GetRatingSummary returns.
type RatingSummary struct {
	Counts  RatingCounts
	Count   uint32
	Average float64
}

func summarizeRatings(c RatingCounts) RatingSummary {
	s := RatingSummary{Counts: c}
	var sum uint64
	for i, n := range c {
		s.Count += n
		sum += uint64(i+1) * uint64(n)
	}
	if s.Count > 0 {
		s.Average = float64(sum) / float64(s.Count)
	}
	return s
}

// RateChat stores the visitor's rating of a chat they have left or that
// ended: score 1 to 5 and an optional comment of at most 1000 characters.
// A chat is rated once: the same rating again (a retry) returns the chat
// unchanged; a different one is FailedPrecondition.
func (s *Service) RateChat(ctx context.Context, chatID, visitorID string, score uint32, comment string) (*Chat, error) {
	var v Violations
	required(&v, "chat_id", chatID)
	required(&v, "visitor_id", visitorID)
	if score < 1 || score > 5 {
		v.Add("score", "must be from 1 to 5")
	}
	comment = strings.TrimSpace(comment)
	switch {
	case !utf8.ValidString(comment):
		v.Add("comment", "must be UTF-8")
	case utf8.RuneCountInString(comment) > MaxRatingComment:
		v.Add("comment", "must be at most %d characters", MaxRatingComment)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var chat *Chat
	err := s.store.Update(ctx, func(tx WriteTx) error {
		var err error
		if chat, err = tx.Chat(chatID); err != nil {
			return err
		}
		if chat.Visitor.ID != visitorID {
			return Errorf(CodePermissionDenied, "%q is not the visitor of chat %q", visitorID, chatID)
		}
		if r := chat.Rating; r != nil {
			if r.Score == score && r.Comment == comment {
				return nil
			}
			return Errorf(CodeFailedPrecondition, "chat %q is already rated", chatID)
		}
		if chat.State != ChatStateEnded && !chat.hasLeft(RoleVisitor) {
			return Errorf(CodeFailedPrecondition, "chat %q has not ended: a chat is rated after it", chatID)
		}
		now := s.clock.Now()
		chat.Rating = &Rating{Score: score, Comment: comment, Time: now}
		if err := tx.PutChat(chat); err != nil {
			return err
		}
		if err := tx.CountRating(chat.SiteID, chat.Agent.ID, now, score); err != nil {
			return err
		}
		return s.record(tx, Event{
			Type: EventChatRated, Time: now, SiteID: chat.SiteID, ChatID: chat.ID,
			VisitorID: visitorID, AgentID: chat.Agent.ID, Score: score, Text: comment,
			RuleID: chat.RuleID, VariantID: chat.VariantID,
		})
	})
	if err != nil {
		return nil, err
	}
	return chat, nil
}

// GetRatingSummary counts the ratings of a site's chats, of an agent's
// (on every site when siteID is empty), or of an agent's on one site,
// given on the UTC days from the day of from to the day of to (zero: the
// first day ever; today).
func (s *Service) GetRatingSummary(ctx context.Context, siteID, agentID string, from, to time.Time) (RatingSummary, error) {
	if siteID == "" && agentID == "" {
		return RatingSummary{}, invalid("site_id", "is required unless agent_id is given")
	}
	if to.IsZero() {
		to = s.clock.Now()
	}
	if !from.IsZero() && from.After(to) {
		return RatingSummary{}, invalid("start_time", "must not be after end_time")
	}
	var counts RatingCounts
	err := s.store.View(ctx, func(tx ReadTx) error {
		if siteID != "" {
			if _, err := tx.Site(siteID); err != nil {
				return err
			}
		}
		if agentID != "" {
			if _, err := tx.Agent(agentID); err != nil {
				return err
			}
		}
		var err error
		counts, err = tx.RatingCounts(siteID, agentID, from, to)
		return err
	})
	if err != nil {
		return RatingSummary{}, err
	}
	return summarizeRatings(counts), nil
}
