package stats

import (
	"maps"
	"slices"
)

// Causes of drops shared by several components.
const (
	// CauseOverflow: a buffer was full or its reader was lapped.
	CauseOverflow = "overflow"
	// CauseShutdown: a component that was stopping discarded what it held.
	CauseShutdown = "shutdown"
	// CauseClosed: a component was closed at once while it held envelopes.
	CauseClosed = "closed"
	// CauseMalformed: input that is not a valid envelope was refused.
	CauseMalformed = "malformed"
	// CauseTooLarge: an envelope or batch larger than allowed was refused.
	CauseTooLarge = "too_large"
)

// Drops counts dropped envelopes by cause. A nil Drops counts nothing.
// Components' Stats snapshots list only causes with a non-zero count (nil
// when nothing was dropped), so two snapshots compare equal exactly when
// their counts do.
type Drops map[string]uint64

// Add adds n envelopes dropped for cause, making the map when d is nil. An
// n of 0 changes nothing (no zero entry is added).
func (d *Drops) Add(cause string, n uint64) {
	if n == 0 {
		return
	}
	if *d == nil {
		*d = make(Drops)
	}
	(*d)[cause] += n
}

// Total returns the sum over every cause.
func (d Drops) Total() uint64 {
	var n uint64
	for _, v := range d {
		n += v
	}
	return n
}

// Causes returns the causes with a non-zero count, sorted.
func (d Drops) Causes() []string {
	var cs []string
	for c, v := range d {
		if v != 0 {
			cs = append(cs, c)
		}
	}
	slices.Sort(cs)
	return cs
}

// Clone returns a copy that shares nothing with d.
func (d Drops) Clone() Drops {
	if d == nil {
		return nil
	}
	return maps.Clone(d)
}

// Kind says how a Metric's value behaves.
type Kind uint8

const (
	// Counter values only grow while the component lives.
	Counter Kind = iota
	// Gauge values go up and down.
	Gauge
)

// String returns "counter" or "gauge".
func (k Kind) String() string {
	if k == Gauge {
		return "gauge"
	}
	return "counter"
}

// Tag is one label of a Metric.
type Tag struct {
	Key, Value string
}

// Metric is one series of a component: its name (Loggregator's where one
// exists), kind, help text, tags and current value. Two Metrics a Reporter
// reports in one call never have the same name and tags.
type Metric struct {
	Name  string
	Kind  Kind
	Help  string
	Tags  []Tag
	Value float64
}

// Reporter is implemented by components that describe their counters as
// Metrics. Report calls emit once per series, from the caller's goroutine,
// with a snapshot taken when Report was called; it does not block on I/O.
type Reporter interface {
	Report(emit func(Metric))
}

// ReporterFunc adapts a function to Reporter.
type ReporterFunc func(emit func(Metric))

// Report calls f(emit).
func (f ReporterFunc) Report(emit func(Metric)) { f(emit) }

// ReportDrops emits one counter named name per cause of d, tagged with
// cause and with the extra tags given (for example direction and
// shard_id), in cause order.
func ReportDrops(emit func(Metric), name, help string, d Drops, tags ...Tag) {
	for _, c := range d.Causes() {
		t := make([]Tag, 0, len(tags)+1)
		t = append(t, tags...)
		t = append(t, Tag{"cause", c})
		emit(Metric{Name: name, Kind: Counter, Help: help, Tags: t, Value: float64(d[c])})
	}
}
