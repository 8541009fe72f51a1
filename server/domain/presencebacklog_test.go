package domain

import (
	"fmt"
	"testing"
)

func TestPresenceBacklogMerges(t *testing.T) {
	ev := func(c PresenceChange, id, page string) *PresenceEvent {
		return &PresenceEvent{Change: c, Presence: Presence{VisitorID: id, CurrentPage: PageView{URL: page}}}
	}
	show := func(events []*PresenceEvent) string {
		out := ""
		for _, e := range events {
			out += fmt.Sprintf("%s:%d:%s ", e.Presence.VisitorID, e.Change, e.Presence.CurrentPage.URL)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   []*PresenceEvent
		want string
	}{
		{"ChangedChanged", []*PresenceEvent{ev(PresenceChanged, "a", "1"), ev(PresenceChanged, "a", "2")},
			fmt.Sprintf("a:%d:2 ", PresenceChanged)},
		{"ArrivedChanged", []*PresenceEvent{ev(PresenceArrived, "a", "1"), ev(PresenceChanged, "a", "2")},
			fmt.Sprintf("a:%d:2 ", PresenceArrived)},
		{"ChangedDeparted", []*PresenceEvent{ev(PresenceChanged, "a", "1"), ev(PresenceDeparted, "a", "1")},
			fmt.Sprintf("a:%d:1 ", PresenceDeparted)},
		{"ArrivedDeparted", []*PresenceEvent{ev(PresenceChanged, "b", "1"), ev(PresenceArrived, "a", "1"), ev(PresenceDeparted, "a", "1")},
			fmt.Sprintf("b:%d:1 ", PresenceChanged)},
		{"DepartedArrivedStaysTwo", []*PresenceEvent{ev(PresenceDeparted, "a", "1"), ev(PresenceArrived, "a", "2"), ev(PresenceChanged, "a", "3")},
			fmt.Sprintf("a:%d:1 a:%d:3 ", PresenceDeparted, PresenceArrived)},
		{"OrderKept", []*PresenceEvent{ev(PresenceChanged, "a", "1"), ev(PresenceChanged, "b", "1"), ev(PresenceChanged, "a", "2")},
			fmt.Sprintf("a:%d:2 b:%d:1 ", PresenceChanged, PresenceChanged)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newPresenceBacklog()
			for _, e := range tc.in {
				b.add(e)
			}
			got, err := b.take()
			if err != nil || show(got) != tc.want {
				t.Fatalf("took %q, %v; want %q", show(got), err, tc.want)
			}
			if again, _ := b.take(); len(again) != 0 {
				t.Fatalf("took %q a second time", show(again))
			}
		})
	}

	t.Run("Bounded", func(t *testing.T) {
		b := newPresenceBacklog()
		for i := range maxPresenceBacklog + 1 {
			b.add(ev(PresenceArrived, fmt.Sprint(i), "1"))
		}
		if got, err := b.take(); err != errResubscribe || len(got) != 0 {
			t.Fatalf("took %d changes and %v past the bound, want none and a new snapshot", len(got), err)
		}
	})
}
