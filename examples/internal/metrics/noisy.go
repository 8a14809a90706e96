package metrics

import (
	"encoding/json"
	"net/http"

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
	Buffer NoisyBuffer `json:"buffer"`
	// Limiter is the limiter's own counters (absent without -limits).
	Limiter *NoisyLimiter `json:"limiter,omitempty"`
	// Sent and Dropped are the heaviest sources, heaviest first, with
	// the totals over every source.
	Sent         []NoisySource `json:"sent"`
	Dropped      []NoisySource `json:"dropped"`
	TotalSent    uint64        `json:"total_sent"`
	TotalDropped uint64        `json:"total_dropped"`
}

// NoisyBuffer is the buffer's counters (diode.Stats).
type NoisyBuffer struct {
	Written uint64 `json:"written"`
	Read    uint64 `json:"read"`
	Dropped uint64 `json:"dropped"`
}

// NoisyLimiter is the limiter's counters (limit.Counts).
type NoisyLimiter struct {
	RateLimited uint64 `json:"rate_limited"`
	Sources     int    `json:"sources"`
	Evicted     uint64 `json:"evicted"`
	Overflow    uint64 `json:"overflow"`
}

// NoisySource is one heavy hitter (limit.SourceCount): its count is at
// most err too high.
type NoisySource struct {
	SourceID string `json:"source_id"`
	Count    uint64 `json:"count"`
	Err      uint64 `json:"err"`
}

func noisySources(cs []limit.SourceCount) []NoisySource {
	out := make([]NoisySource, len(cs))
	for i, c := range cs {
		out[i] = NoisySource(c)
	}
	return out
}

// NoisyReport returns b's Noisy document.
func NoisyReport(b *limit.Buffer) Noisy {
	st := b.Stats()
	n := Noisy{Policy: b.Policy(), Buffer: NoisyBuffer{Written: st.Written, Read: st.Read, Dropped: st.Dropped},
		Sent: []NoisySource{}, Dropped: []NoisySource{}}
	if l := b.Limiter(); l != nil {
		c := NoisyLimiter(l.Counts())
		n.Limiter = &c
	}
	if s := b.Summary(); s != nil {
		snap := s.Snapshot()
		n.Sent, n.Dropped, n.TotalSent, n.TotalDropped = noisySources(snap.Sent), noisySources(snap.Dropped), snap.TotalSent, snap.TotalDropped
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
