package limit

import (
	"strconv"

	"github.com/sluicelog/sluice/stats"
)

// Names of the heavy-hitter series a Buffer reports.
const (
	// HeavyHitterSent is the gauge of envelopes sent by one of the
	// heaviest sources, tagged rank and source.
	HeavyHitterSent = "heavy_hitter_sent"
	// HeavyHitterDropped is the gauge of envelopes dropped (overflow of a
	// fair buffer, or rate limited) of one of the heaviest sources, tagged
	// rank and source.
	HeavyHitterDropped = "heavy_hitter_dropped"
	// TagRank is 1 for the heaviest source, 2 for the next, ...
	TagRank = "rank"
	// TagSource is the source's ID (cut to 64 bytes). It is not named
	// source_id: on Loggregator's series source_id names the component
	// that reports (rate(ingress{source_id="doppler"}[5m])).
	TagSource = "source"
)

// BufferedBytes is the gauge of the wire bytes a Buffer bounded in bytes
// (BufferConfig.MaxBytes) holds.
const BufferedBytes = "buffered_bytes"

// ReportTopK is how many sources of each ranking a Buffer reports as
// series: the number of heavy-hitter series is at most 2*ReportTopK,
// whatever the number of sources.
const ReportTopK = 10

// Report describes the buffer's counters: dropped{direction=ingress} with
// cause overflow (the policy's buffer) and rate_limited (the Limiter, when
// there is one), the gauge buffered (and buffered_bytes, when bounded in
// bytes), and the summary's ReportTopK
// heaviest sources of each ranking as gauges heavy_hitter_sent and
// heavy_hitter_dropped with tags rank (1 is the heaviest) and source:
// a fixed label set and a bounded number of series, however many sources
// there are. The values are gauges because the source at a rank changes.
func (b *Buffer) Report(emit func(stats.Metric)) {
	in := b.inner.Stats()
	d := stats.Drops{stats.CauseOverflow: in.Dropped}
	always := []string{stats.CauseOverflow}
	if b.lim != nil {
		d[CauseRateLimited] = b.lim.Counts().RateLimited
		always = append(always, CauseRateLimited)
	}
	stats.ReportDropped(emit, stats.DirectionIngress, d, always)
	emit(stats.GaugeOf(stats.Buffered, stats.HelpBuffered, float64(in.Written-min(in.Written, in.Read+in.Dropped))))
	if b.maxBytes > 0 {
		emit(stats.GaugeOf(BufferedBytes, "Wire bytes of the envelopes the buffer holds (bounded by BufferConfig.MaxBytes).", float64(in.Bytes)))
	}
	if b.sum == nil {
		return
	}
	snap := b.sum.Snapshot()
	top := func(name, help string, cs []SourceCount) {
		for i, c := range cs[:min(len(cs), ReportTopK)] {
			emit(stats.GaugeOf(name, help, float64(c.Count),
				stats.Tag{Key: TagRank, Value: strconv.Itoa(i + 1)}, stats.Tag{Key: TagSource, Value: c.SourceID}))
		}
	}
	top(HeavyHitterSent, "Envelopes sent by one of the heaviest sources (space-saving estimate, at most its error too high).", snap.Sent)
	top(HeavyHitterDropped, "Envelopes dropped of one of the sources that lost the most (space-saving estimate).", snap.Dropped)
}

var _ stats.Reporter = (*Buffer)(nil)
