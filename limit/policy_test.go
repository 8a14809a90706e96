package limit_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/limit"
	"github.com/sluicelog/sluice/stats"
)

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		in   string
		want limit.Policy
		err  bool
	}{{"", limit.PolicyRing, false}, {"ring", limit.PolicyRing, false}, {"fair", limit.PolicyFair, false}, {"Fair", "", true}, {"lifo", "", true}}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := limit.ParsePolicy(tt.in)
			if tt.err {
				assert.ErrorIs(t, err, limit.ErrInvalidConfig)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, p)
		})
	}
}

// fill writes n envelopes of noisy, with one of each quiet source after
// every 10th, into b, with nobody reading.
func fill(t *testing.T, b diode.Buffer[[]byte], n int, quiet []string) {
	noisy := env(t, "noisy")
	k := 0
	for i := range n {
		b.Set(noisy)
		if i%10 == 9 && k < len(quiet) {
			b.Set(env(t, quiet[k]))
			k++
		}
	}
}

// Each policy with and without limits: what it is made of, that its books
// close after a drain, and who the summary names.
func TestNewBuffer(t *testing.T) {
	quiet := []string{"a", "b", "c", "d", "e"}
	limits := &limit.Config{Sources: map[string]limit.Limit{"noisy": {Rate: 1, Burst: 50}}}
	tests := []struct {
		name        string
		cfg         limit.BufferConfig
		inner       any // nil: not checked (a fair buffer is limit.NewFair's)
		limiter     bool
		summary     bool
		readQuiet   int    // quiet envelopes read after the drain
		dropped     uint64 // buffer drops (overflow and rate limited)
		topDropped  string
		dropCounted uint64 // drops the summary saw for noisy
	}{
		{"ring", limit.BufferConfig{Size: 20}, &diode.ManyToOne[[]byte]{}, false, false, 0, 85, "", 0},
		{"ring summarized", limit.BufferConfig{Size: 20, Summarize: true}, nil, false, true, 0, 85, "", 0},
		{"fair", limit.BufferConfig{Policy: limit.PolicyFair, Size: 20}, nil, false, true, 5, 85, "noisy", 85},
		{"fair limited", limit.BufferConfig{Policy: limit.PolicyFair, Size: 20, Limits: limits}, nil, true, true, 5, 85, "noisy", 85},
		{"ring limited", limit.BufferConfig{Size: 200, Limits: limits}, &diode.ManyToOne[[]byte]{}, true, true, 5, 50, "noisy", 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := limit.NewBuffer(tt.cfg)
			require.NoError(t, err)
			defer b.Close()
			if tt.inner != nil {
				assert.IsType(t, tt.inner, b.Inner())
			}
			assert.Equal(t, tt.limiter, b.Limiter() != nil)
			assert.Equal(t, tt.summary, b.Summary() != nil)
			fill(t, b, 100, quiet)
			got := map[string]int{}
			for {
				e, ok := b.TryNext()
				if !ok {
					break
				}
				got[limit.SourceID(e)]++
			}
			s := b.Stats()
			assert.Equal(t, uint64(105), s.Written)
			assert.Equal(t, s.Written, s.Read+s.Dropped, "books close after a drain")
			if tt.name != "ring" && tt.name != "ring summarized" { // a lapped ring keeps what it keeps
				assert.Equal(t, tt.dropped, s.Dropped)
				assert.Equal(t, tt.readQuiet, got["a"]+got["b"]+got["c"]+got["d"]+got["e"])
			}
			if tt.summary {
				snap := b.Summary().Snapshot()
				require.NotEmpty(t, snap.Sent)
				assert.Equal(t, limit.SourceCount{SourceID: "noisy", Count: 100}, snap.Sent[0])
				assert.Equal(t, uint64(105), snap.TotalSent)
				if tt.topDropped != "" {
					require.Len(t, snap.Dropped, 1)
					assert.Equal(t, limit.SourceCount{SourceID: tt.topDropped, Count: tt.dropCounted}, snap.Dropped[0])
				} else {
					assert.Empty(t, snap.Dropped, "a ring does not know whose envelopes it skipped")
				}
			}
		})
	}
}

func TestNewBufferRefuses(t *testing.T) {
	for name, cfg := range map[string]limit.BufferConfig{
		"policy":   {Policy: "lifo"},
		"size":     {Size: -1},
		"limits":   {Limits: &limit.Config{Default: limit.Limit{Rate: -1}}},
		"fairsize": {Policy: limit.PolicyFair, Size: -5},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := limit.NewBuffer(cfg)
			assert.ErrorIs(t, err, limit.ErrInvalidConfig)
		})
	}
}

func TestBufferReloadFile(t *testing.T) {
	b, err := limit.NewBuffer(limit.BufferConfig{})
	require.NoError(t, err)
	assert.ErrorIs(t, b.ReloadFile("nowhere"), limit.ErrNoLimits)

	path := filepath.Join(t.TempDir(), "limits")
	require.NoError(t, os.WriteFile(path, []byte("noisy 1/s burst 3\n"), 0o600))
	lb, err := limit.NewBuffer(limit.BufferConfig{Limits: &limit.Config{}})
	require.NoError(t, err)
	defer lb.Close()
	require.NoError(t, lb.ReloadFile(path))
	assert.Equal(t, limit.Limit{Rate: 1, Burst: 3}, lb.Limiter().Config().Sources["noisy"])
}

// Report: drops by cause, buffered, and at most ReportTopK series of each
// ranking, with a fixed label set, however many sources there are.
func TestBufferReport(t *testing.T) {
	b, err := limit.NewBuffer(limit.BufferConfig{Policy: limit.PolicyFair, Size: 10,
		Limits: &limit.Config{Sources: map[string]limit.Limit{"noisy": {Rate: 1, Burst: 5}}}})
	require.NoError(t, err)
	defer b.Close()
	var quiet []string
	for i := range 30 {
		quiet = append(quiet, string(rune('A'+i)))
	}
	fill(t, b, 400, quiet)
	var ms []stats.Metric
	b.Report(func(m stats.Metric) { ms = append(ms, m) })
	byName := map[string][]stats.Metric{}
	for _, m := range ms {
		byName[m.Name] = append(byName[m.Name], m)
	}
	require.Len(t, byName[stats.Dropped], 2)
	assert.Equal(t, []stats.Tag{{Key: stats.TagDirection, Value: "ingress"}, {Key: stats.TagCause, Value: "overflow"}}, byName[stats.Dropped][0].Tags)
	assert.Equal(t, float64(25), byName[stats.Dropped][0].Value, "30 quiet + 5 noisy into 10 slots")
	assert.Equal(t, float64(395), byName[stats.Dropped][1].Value, "rate limited")
	assert.Equal(t, float64(10), byName[stats.Buffered][0].Value)
	require.Len(t, byName[limit.HeavyHitterSent], limit.ReportTopK)
	top := byName[limit.HeavyHitterSent][0]
	assert.Equal(t, float64(400), top.Value)
	assert.Equal(t, []stats.Tag{{Key: limit.TagRank, Value: "1"}, {Key: limit.TagSource, Value: "noisy"}}, top.Tags)
	require.NotEmpty(t, byName[limit.HeavyHitterDropped])
	assert.Equal(t, "noisy", byName[limit.HeavyHitterDropped][0].Tags[1].Value)
	assert.LessOrEqual(t, len(byName[limit.HeavyHitterDropped]), limit.ReportTopK)
}
