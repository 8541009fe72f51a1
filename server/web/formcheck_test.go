package web_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestFormCasesMatchServer runs the widget's form-check cases through the
// server's own check: the widget (clients/widget/form.test.ts runs the same
// file) must show exactly the error the server would answer with.
func TestFormCasesMatchServer(t *testing.T) {
	raw, err := os.ReadFile("../../clients/widget/testdata/form_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Cases []struct {
			Type      domain.FormFieldType
			Required  bool
			MaxLength uint32
			Label     string
			Value     string
			Error     string
		}
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range file.Cases {
		field := domain.FormField{Key: "f", Label: c.Label, Type: c.Type, Required: c.Required, MaxLength: c.MaxLength}
		err := domain.CheckForm([]domain.FormField{field}, map[string]string{"f": c.Value})
		got := ""
		if err != nil {
			var derr *domain.Error
			if !errors.As(err, &derr) || len(derr.Violations) != 1 || derr.Violations[0].Field != "values.f" {
				t.Errorf("type %d %q: unexpected error %v", c.Type, c.Value, err)
				continue
			}
			got = derr.Violations[0].Description
		}
		if got != c.Error {
			t.Errorf("type %d %q: server says %q, the widget's cases say %q", c.Type, c.Value, got, c.Error)
		}
	}
}
