package limit

import (
	"hash/maphash"
	"slices"
	"sync"

	"github.com/sluicelog/sluice/diode"
)

// DefaultTopK is the number of sources a Summary keeps by default.
const DefaultTopK = 64

// nameCap is how many bytes of a source ID a Summary keeps; longer IDs
// are shown cut to this length.
const nameCap = 64

// Summary is a bounded heavy-hitter summary of envelopes sent and dropped
// per source ID: two space-saving sketches (Metwally, Agrawal and El
// Abbadi, 2005) of k entries each, one ranked by envelopes sent, one by
// envelopes dropped. Any source whose true count exceeds total/k is
// guaranteed to be in its sketch, and each count over-estimates by at
// most the entry's Err.
//
// Count does not touch the sketches: it adds to a table of pending counts
// per source (pendingRows(k) rows, 1024 for the default k), which is
// folded into the sketches, one weighted update per source, when it is
// full and whenever the Summary is read. Space-saving's guarantees hold
// for weighted updates in any order, so a Snapshot is what counting one
// by one would give whenever the sketches have room for every source, and
// keeps the same bounds when they do not; per envelope, Count is a hash
// and a table lookup instead of a sketch update (which, with more sources
// than k, replaces a counter on almost every call).
//
// Its memory is fixed when it is made: per sketch entry a 96-byte counter
// (the ID's first 64 bytes, counts, hash), a 4-byte heap slot and two
// 16-byte index slots, so 264 bytes per entry for both sketches when k is
// a power of two; per pending row 96 bytes and two 16-byte index slots.
// For the default k of 64: 16.5 KiB of sketches and 128 KiB of pending
// rows (TestSummaryMemory measures it). Count allocates nothing.
//
// A Summary is a diode.Tally, so a diode.Fair buffer can report into it;
// [Summary.Drops] gives the view that counts only drops, for a Fair
// buffer behind a Limiter that already counts what was sent. A Limiter
// given a Summary keeps its sources' counts in its own table and hands
// them over when the Summary is read (or a source leaves the table).
type Summary struct {
	seed maphash.Seed

	feedMu sync.Mutex
	feeds  map[*Limiter]struct{} // Limiters holding counts for s

	mu      sync.Mutex
	pend    pending
	sent    sketch
	dropped sketch
}

// pending is a Summary's table of counts not yet in its sketches.
type pending struct {
	rows  []prow
	index table
}

type prow struct {
	hash          uint64
	sent, dropped uint64
	n             uint8
	name          [nameCap]byte
}

// pendingRows is the size of the pending table of a Summary of k: 16k,
// at least 1024 and at most 65,536.
func pendingRows(k int) int { return min(max(16*k, 1024), 1<<16) }

var _ diode.Tally = (*Summary)(nil)

// NewSummary returns a Summary keeping the k heaviest sources (k < 1
// means DefaultTopK; at most 4096).
func NewSummary(k int) *Summary {
	if k < 1 {
		k = DefaultTopK
	}
	k = min(k, 4096)
	p := pendingRows(k)
	return &Summary{
		seed: maphash.MakeSeed(), sent: newSketch(k), dropped: newSketch(k),
		pend: pending{rows: make([]prow, 0, p), index: newTable(p)},
	}
}

// Count adds sent and dropped envelopes of source id.
func (s *Summary) Count(id string, sent, dropped uint64) {
	if sent == 0 && dropped == 0 {
		return
	}
	h := maphash.String(s.seed, id)
	s.mu.Lock()
	i := s.pend.index.get(h)
	if i < 0 {
		if len(s.pend.rows) == cap(s.pend.rows) {
			s.fold()
		}
		i = int32(len(s.pend.rows))
		s.pend.rows = append(s.pend.rows, prow{hash: h})
		r := &s.pend.rows[i]
		r.n = uint8(copy(r.name[:], id))
		s.pend.index.put(h, i)
	}
	r := &s.pend.rows[i]
	r.sent += sent
	r.dropped += dropped
	s.mu.Unlock()
}

// fold moves the pending counts into the sketches, in the order the
// sources first came; s.mu is held.
func (s *Summary) fold() {
	for i := range s.pend.rows {
		r := &s.pend.rows[i]
		id := unsafeString(r.name[:r.n])
		if r.sent > 0 {
			s.sent.add(r.hash, id, r.sent)
		}
		if r.dropped > 0 {
			s.dropped.add(r.hash, id, r.dropped)
		}
	}
	s.pend.rows = s.pend.rows[:0]
	s.pend.index.reset()
}

// attach and detach register a Limiter whose counts Snapshot collects.
func (s *Summary) attach(l *Limiter) {
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	if s.feeds == nil {
		s.feeds = map[*Limiter]struct{}{}
	}
	s.feeds[l] = struct{}{}
}

func (s *Summary) detach(l *Limiter) {
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	delete(s.feeds, l)
}

// Drops returns a diode.Tally that adds only the drops it is told of to s.
func (s *Summary) Drops() diode.Tally { return dropsOnly{s} }

type dropsOnly struct{ s *Summary }

func (d dropsOnly) Count(id string, _, dropped uint64) {
	if dropped > 0 {
		d.s.Count(id, 0, dropped)
	}
}

// SourceCount is one source in a Snapshot.
type SourceCount struct {
	// SourceID is the source ID (cut to 64 bytes).
	SourceID string
	// Count is the envelopes counted for it, at most Err too many.
	Count uint64
	// Err bounds the over-estimate: the count of the source it replaced.
	Err uint64
}

// Snapshot is a Summary's heaviest sources, heaviest first.
type Snapshot struct {
	// Sent and Dropped rank sources by envelopes sent and dropped.
	Sent, Dropped []SourceCount
	// TotalSent and TotalDropped count every envelope, whatever its
	// source.
	TotalSent, TotalDropped uint64
}

// Snapshot returns the sources of both sketches, heaviest first (ties by
// source ID).
func (s *Summary) Snapshot() Snapshot {
	// The Limiters first, each under its own lock (which it holds while it
	// counts into s), then the pending table.
	s.feedMu.Lock()
	for l := range s.feeds {
		l.handOver()
	}
	s.feedMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fold()
	return Snapshot{
		Sent: s.sent.top(), Dropped: s.dropped.top(),
		TotalSent: s.sent.total, TotalDropped: s.dropped.total,
	}
}

// sketch is one space-saving summary: k counters, a min-heap on their
// counts to find the one to replace, and a table from hash to counter.
type sketch struct {
	entries []entry
	heap    []int32 // entry numbers; heap[0] has the smallest count
	index   table
	total   uint64
}

type entry struct {
	hash       uint64
	count, err uint64
	pos        int32 // place in heap
	n          uint8
	name       [nameCap]byte
}

func newSketch(k int) sketch {
	return sketch{entries: make([]entry, k), heap: make([]int32, 0, k), index: newTable(k)}
}

func (k *sketch) add(h uint64, id string, n uint64) {
	k.total += n
	e := k.index.get(h)
	if e < 0 {
		if len(k.heap) < len(k.entries) {
			e = int32(len(k.heap))
			k.heap = append(k.heap, e)
			k.entries[e].pos = e
		} else {
			// Replace the smallest: the newcomer inherits its count as
			// the bound of its own over-estimate.
			e = k.heap[0]
			k.index.del(k.entries[e].hash)
			k.entries[e].err = k.entries[e].count
		}
		en := &k.entries[e]
		en.hash = h
		en.n = uint8(copy(en.name[:], id))
		k.index.put(h, e)
	}
	k.entries[e].count += n
	i := k.up(int(k.entries[e].pos))
	k.down(i)
}

// up moves the heap element at i up while its parent has a larger count
// (only a newly added counter can be smaller than its parent) and returns
// where it ends.
func (k *sketch) up(i int) int {
	for i > 0 {
		p := (i - 1) / 2
		if k.entries[k.heap[p]].count <= k.entries[k.heap[i]].count {
			return i
		}
		k.heap[i], k.heap[p] = k.heap[p], k.heap[i]
		k.entries[k.heap[i]].pos = int32(i)
		k.entries[k.heap[p]].pos = int32(p)
		i = p
	}
	return i
}

// down moves the heap element at i down while a child has a smaller count.
func (k *sketch) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(k.heap) {
			return
		}
		c := l
		if r := l + 1; r < len(k.heap) && k.entries[k.heap[r]].count < k.entries[k.heap[l]].count {
			c = r
		}
		if k.entries[k.heap[c]].count >= k.entries[k.heap[i]].count {
			return
		}
		k.heap[i], k.heap[c] = k.heap[c], k.heap[i]
		k.entries[k.heap[i]].pos = int32(i)
		k.entries[k.heap[c]].pos = int32(c)
		i = c
	}
}

func (k *sketch) top() []SourceCount {
	out := make([]SourceCount, 0, len(k.heap))
	for _, e := range k.heap {
		en := &k.entries[e]
		out = append(out, SourceCount{SourceID: string(en.name[:en.n]), Count: en.count, Err: en.err})
	}
	sortCounts(out)
	return out
}

// sortCounts sorts heaviest first, ties by source ID.
func sortCounts(out []SourceCount) {
	slices.SortFunc(out, func(a, b SourceCount) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		if a.SourceID < b.SourceID {
			return -1
		}
		if a.SourceID > b.SourceID {
			return 1
		}
		return 0
	})
}

// Merge adds snapshots of several Summaries (of several instances) into
// one: counts and error bounds of a source are summed, and each ranking
// keeps its k heaviest (k < 1 keeps all), heaviest first.
func Merge(k int, snaps ...Snapshot) Snapshot {
	var out Snapshot
	sent, dropped := map[string]SourceCount{}, map[string]SourceCount{}
	add := func(m map[string]SourceCount, cs []SourceCount) {
		for _, c := range cs {
			sum := m[c.SourceID]
			sum.SourceID = c.SourceID
			sum.Count += c.Count
			sum.Err += c.Err
			m[c.SourceID] = sum
		}
	}
	for _, s := range snaps {
		add(sent, s.Sent)
		add(dropped, s.Dropped)
		out.TotalSent += s.TotalSent
		out.TotalDropped += s.TotalDropped
	}
	rank := func(m map[string]SourceCount) []SourceCount {
		cs := make([]SourceCount, 0, len(m))
		for _, c := range m {
			cs = append(cs, c)
		}
		sortCounts(cs)
		if k > 0 && len(cs) > k {
			cs = cs[:k]
		}
		return cs
	}
	out.Sent, out.Dropped = rank(sent), rank(dropped)
	return out
}
