package domain

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// transcriptTime is how a transcript writes the time of each event (UTC).
const transcriptTime = "2006-01-02 15:04:05"

// Transcript returns a chat as plain text, and a file name for it. The
// header names the site, the chat, its start and end (UTC, ISO 8601), why
// it ended, the agent and the visitor; then come the visitor's form answers
// if any, every event on its own line, and the visitor's rating if given:
//
//	[2026-12-07 10:00:03] Agent Name: text
//
// Lines after the first of a multi-line message are indented by two spaces.
func (s *Service) Transcript(ctx context.Context, chatID string) (text, fileName string, err error) {
	if chatID == "" {
		return "", "", invalid("chat_id", "is required")
	}
	var (
		chat *Chat
		site *Site
		sum  ChatSummary
		form map[string]string
	)
	err = s.store.View(ctx, func(tx ReadTx) error {
		if chat, err = tx.Chat(chatID); err != nil {
			return err
		}
		if site, err = tx.Site(chat.SiteID); ErrorCode(err) == CodeNotFound {
			site, err = &Site{ID: chat.SiteID}, nil
		}
		if err != nil {
			return err
		}
		if sum, err = summarize(tx, chat); err != nil {
			return err
		}
		form, err = chatForm(tx, chat)
		return err
	})
	if err != nil {
		return "", "", err
	}
	var b strings.Builder
	siteName := site.ID
	if site.Name != "" {
		siteName = fmt.Sprintf("%s (%s)", site.Name, site.ID)
	}
	b.WriteString("Chat transcript\n")
	fmt.Fprintf(&b, "Site: %s\n", siteName)
	fmt.Fprintf(&b, "Chat: %s\n", chat.ID)
	fmt.Fprintf(&b, "Started: %s\n", isoTime(chat.CreateTime))
	if chat.State == ChatStateEnded {
		fmt.Fprintf(&b, "Ended: %s\n", isoTime(chat.EndTime))
		fmt.Fprintf(&b, "End reason: %s\n", chat.EndReason)
	} else {
		b.WriteString("Ended: not yet (the chat is active)\n")
	}
	fmt.Fprintf(&b, "Agent: %s (%s)\n", cmp.Or(chat.Agent.DisplayName, chat.Agent.ID), chat.Agent.ID)
	visitor := fmt.Sprintf("%s (%s)", participantName(chat.Visitor), chat.Visitor.ID)
	switch {
	case sum.VisitorName != "" && sum.VisitorEmail != "":
		visitor = fmt.Sprintf("%s <%s> (%s)", sum.VisitorName, sum.VisitorEmail, chat.Visitor.ID)
	case sum.VisitorName != "" || sum.VisitorEmail != "":
		visitor = fmt.Sprintf("%s (%s)", sum.VisitorName+sum.VisitorEmail, chat.Visitor.ID)
	}
	fmt.Fprintf(&b, "Visitor: %s\n", visitor)
	if len(form) > 0 {
		b.WriteString("\nForm answers:\n")
		for _, a := range formAnswers(site, form) {
			fmt.Fprintf(&b, "  %s: %s\n", a[0], indentLines(a[1], "    "))
		}
	}
	b.WriteString("\nMessages:\n")
	for after := uint32(0); ; {
		var events []ChatEvent
		err := s.store.View(ctx, func(tx ReadTx) error {
			events, err = tx.ChatEvents(chatID, after, MaxPageSize)
			return err
		})
		if err != nil {
			return "", "", err
		}
		for _, ev := range events {
			writeTranscriptEvent(&b, ev)
		}
		if len(events) < MaxPageSize {
			break
		}
		after = events[len(events)-1].Seq
	}
	if r := chat.Rating; r != nil {
		fmt.Fprintf(&b, "\nRating: %d/5, given %s\n", r.Score, isoTime(r.Time))
		if r.Comment != "" {
			fmt.Fprintf(&b, "Comment: %s\n", indentLines(r.Comment, "  "))
		}
	}
	return b.String(), "transcript-" + chat.ID + ".txt", nil
}

// writeTranscriptEvent writes one event's line.
func writeTranscriptEvent(b *strings.Builder, ev ChatEvent) {
	fmt.Fprintf(b, "[%s] ", ev.Time.UTC().Format(transcriptTime))
	switch {
	case ev.Started != nil:
		fmt.Fprintf(b, "%s joined; %s joined\n", participantName(ev.Started.Agent), participantName(ev.Started.Visitor))
	case ev.Message != nil:
		fmt.Fprintf(b, "%s: %s\n", participantName(ev.Message.Sender), indentLines(ev.Message.Text, "  "))
	case ev.ParticipantLeft != nil:
		fmt.Fprintf(b, "%s left\n", participantName(*ev.ParticipantLeft))
	case ev.Transferred != nil:
		fmt.Fprintf(b, "%s handed the chat to %s\n", participantName(ev.Transferred.From), participantName(ev.Transferred.To))
	case ev.InactivityWarning != nil:
		fmt.Fprintf(b, "Nobody has written for a while: the chat ends at %s unless someone writes\n",
			ev.InactivityWarning.EndTime.UTC().Format(transcriptTime))
	case ev.Ended != nil:
		fmt.Fprintf(b, "Chat ended: %s\n", ev.Ended.Reason)
	default:
		b.WriteString("(event)\n")
	}
}

// participantName is how a transcript names a participant.
func participantName(p Participant) string {
	return cmp.Or(p.DisplayName, p.ID)
}

// formAnswers lists a form's answers as label and value, in the order of
// the site's form fields; answers to fields the form no longer has follow,
// by key.
func formAnswers(site *Site, form map[string]string) [][2]string {
	var out [][2]string
	seen := map[string]bool{}
	for _, f := range site.ProactiveChat.FormFields {
		if v, ok := form[f.Key]; ok {
			out = append(out, [2]string{cmp.Or(f.Label, f.Key), v})
			seen[f.Key] = true
		}
	}
	var rest []string
	for k := range form {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		out = append(out, [2]string{k, form[k]})
	}
	return out
}

// indentLines indents every line of s after the first.
func indentLines(s, indent string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "\n"+indent)
}

// isoTime is t in UTC, ISO 8601.
func isoTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

// String names an end reason in words.
func (r ChatEndReason) String() string {
	switch r {
	case EndBothLeft:
		return "both left"
	case EndVisitorDeclined:
		return "the visitor declined (closed the chat before writing)"
	case EndInactive:
		return "inactive"
	}
	return "unspecified"
}
