package metrics

import (
	"encoding/json"
	"net/http"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/limit"
)

// NoisyPath is where the programs serve their ingress buffer's heavy
// hitters, beside /metrics.
const NoisyPath = "/debug/noisy"

// Noisy is the JSON document served at NoisyPath.
type Noisy struct {
	// Policy is the ingress buffer's policy: fair or ring.
	Policy limit.Policy `json:"policy"`
	// Buffer counts what the ingress buffer (with its limiter) took,
	// handed on and dropped.
	Buffer diode.Stats `json:"buffer"`
	// Limiter is the limiter's own counters (absent without -limits).
	Limiter *limit.Counts `json:"limiter,omitempty"`
	// Sent and Dropped are the heaviest sources, heaviest first, with
	// the totals over every source.
	Sent         []limit.SourceCount `json:"sent"`
	Dropped      []limit.SourceCount `json:"dropped"`
	TotalSent    uint64              `json:"total_sent"`
	TotalDropped uint64              `json:"total_dropped"`
}

// NoisyReport returns b's Noisy document.
func NoisyReport(b *limit.Buffer) Noisy {
	n := Noisy{Policy: b.Policy(), Buffer: b.Stats(), Sent: []limit.SourceCount{}, Dropped: []limit.SourceCount{}}
	if l := b.Limiter(); l != nil {
		c := l.Counts()
		n.Limiter = &c
	}
	if s := b.Summary(); s != nil {
		snap := s.Snapshot()
		n.Sent, n.Dropped, n.TotalSent, n.TotalDropped = snap.Sent, snap.Dropped, snap.TotalSent, snap.TotalDropped
	}
	return n
}

// NoisyHandler serves b's Noisy document as JSON on GET.
func NoisyHandler(b *limit.Buffer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(NoisyReport(b))
	})
}
