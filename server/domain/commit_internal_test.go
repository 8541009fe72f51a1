package domain

import (
	"reflect"
	"testing"
)

// TestEveryWriteIsNoted: each write method of WriteTx is one commitTx
// notes, so that a write method added to WriteTx later cannot bypass the
// rule that no change commits without its event (a method commitTx does
// not define would pass straight through to the store, unnoticed).
func TestEveryWriteIsNoted(t *testing.T) {
	reads := map[string]bool{}
	rt := reflect.TypeFor[ReadTx]()
	for i := range rt.NumMethod() {
		reads[rt.Method(i).Name] = true
	}
	wt := reflect.TypeFor[WriteTx]()
	writes := 0
	for i := range wt.NumMethod() {
		m := wt.Method(i)
		// AppendEvent is the event itself; OnCommit writes nothing.
		if reads[m.Name] || m.Name == "AppendEvent" || m.Name == "OnCommit" {
			continue
		}
		writes++
		t.Run(m.Name, func(t *testing.T) {
			// The store under the commitTx is nil: a method commitTx
			// notes sets wrote before it calls through (and panics).
			ct := &commitTx{}
			fn := reflect.ValueOf(ct).MethodByName(m.Name)
			args := make([]reflect.Value, fn.Type().NumIn())
			for j := range args {
				args[j] = reflect.Zero(fn.Type().In(j))
			}
			func() {
				defer func() { _ = recover() }()
				fn.Call(args)
			}()
			if ct.wrote != m.Name {
				t.Errorf("commitTx does not note %s (wrote = %q): define it in commit.go", m.Name, ct.wrote)
			}
		})
	}
	if writes < 20 {
		t.Fatalf("found %d write methods; the reflection is wrong", writes)
	}
}
