package domain

import (
	"fmt"
	"testing"
)

func TestShrunk(t *testing.T) {
	m := map[string]int{}
	peak := 0
	for i := range 4000 {
		m[fmt.Sprint(i)] = i
		m = shrunk(m, &peak)
	}
	if peak != 4000 {
		t.Fatalf("peak %d, want 4000", peak)
	}
	copied := 0
	for i := range 3990 {
		delete(m, fmt.Sprint(i))
		before := fmt.Sprintf("%p", m)
		m = shrunk(m, &peak)
		if fmt.Sprintf("%p", m) != before {
			copied++
		}
	}
	// Copied when 1000 are left; a peak of 1000 is under shrinkBelow.
	if copied != 1 {
		t.Errorf("copied %d times, want 1", copied)
	}
	if len(m) != 10 {
		t.Fatalf("%d entries left, want 10", len(m))
	}
	for i := 3990; i < 4000; i++ {
		if m[fmt.Sprint(i)] != i {
			t.Fatalf("entry %d lost", i)
		}
	}
}
