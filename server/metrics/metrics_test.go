package metrics_test

import (
	"strings"
	"testing"

	"github.com/proactivechat/proactivechat/server/metrics"
)

func TestHistogram(t *testing.T) {
	h := metrics.NewHistogram(0.1, 1)
	for _, v := range []float64{0.05, 0.1, 0.5, 3} {
		h.Observe(v)
	}
	var b strings.Builder
	w := metrics.NewWriter(&b)
	w.Histogram("x_seconds", "X.", h)
	w.Family("y", "gauge", "Y.", metrics.Sample{Labels: []string{"site", `a"b`}, Value: 2})
	want := `# HELP x_seconds X.
# TYPE x_seconds histogram
x_seconds_bucket{le="0.1"} 2
x_seconds_bucket{le="1"} 3
x_seconds_bucket{le="+Inf"} 4
x_seconds_sum 3.65
x_seconds_count 4
# HELP y Y.
# TYPE y gauge
y{site="a\"b"} 2
`
	if got := b.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
