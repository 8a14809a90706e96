package diode

import (
	"context"
	"errors"
	"sync"
)

// ErrNilKey is returned by NewFair when it is given no key function.
var ErrNilKey = errors.New("diode: key function must not be nil")

// Tally receives per-key counts from a Fair buffer (see [WithTally]), for a
// heavy-hitter summary of who writes and who loses the most. Count is
// called on the writer's goroutine, after Set has released the buffer
// (except for the elements a buffer bounded in bytes drops to make room,
// reported while it holds its lock: Count must not call the buffer), so
// it must be safe for concurrent use. key may share memory with the
// element: Count must copy what it keeps.
type Tally interface {
	Count(key string, written, dropped uint64)
}

// WithTally makes a Fair buffer report every write, and every drop under
// the key of the element dropped, to t. A nil t reports nothing (the
// default). Other buffers ignore it.
func WithTally(t Tally) Option {
	return optionFunc(func(c *config) { c.tally = t })
}

// Fair is a bounded buffer that sheds load fairly between sources: each
// element belongs to the source that key names, and when the buffer is
// full, a write drops the oldest element of the source holding the most
// elements (its own oldest when the writer's source is one of them). A
// source that writes faster than the reader can take therefore loses its
// own elements, while a source that holds little loses nothing.
//
// The reader takes one element from each source in turn (round robin over
// the sources that hold elements), oldest first within a source, so a
// steady source waits for at most one element of every other source, not
// for a whole buffer of the noisy one. Order between sources is therefore
// not the order of the writes; order within a source is.
//
// Set never blocks on the reader: it takes a mutex for the few
// nanoseconds of moving list pointers, as does the reader. It is safe for
// any number of writers and one reader; the alert callback runs on the
// reader's goroutine and reports, on the next TryNext or Next, the drops
// made since its previous call (drops are counted in Stats as they
// happen).
//
// Sources are told apart by a 64-bit hash of their keys, seeded at
// random for every buffer (see [KeySeed]), never by comparing the keys:
// two keys with the same hash would be taken for one source and share
// one share of the buffer (each still read in order, and counted in the
// Tally under its own key). With a few thousand sources the chance that
// any two share a hash is about 1e-13; the hash is not cryptographic, so
// it is about chance, not about an adversary who can observe the hashes
// (which the buffer never shows).
//
// Which source holds the most is kept exactly only while it can matter:
// from the first drop (which finds the heaviest sources by one pass over
// the sources that hold elements) until the buffer is back to at most
// half full, in elements and in bytes, and the reader has taken at least
// as many elements as that pass cost. Below that, writes and reads skip
// the bookkeeping, which is most of the cost of a buffer that is not
// overloaded; the choice of what to drop is the same either way.
//
// The pass that makes the counts exact costs about as much as reading
// one element per source that holds elements (for a buffer of 10,000
// elements from 10,000 sources, some tens of microseconds under the lock,
// once per overload).
//
// Memory: about size*(sizeof(T)+52) bytes for elements, per-source state
// and count buckets, plus 4 bytes per slot of a power-of-two index of at
// least 2*size slots.
type Fair[T any] struct {
	key   func(T) string
	seed  KeySeed
	tally Tally
	alert AlertFunc

	mu sync.Mutex
	// guarded by mu
	items    []fairItem[T] // element slots; free ones chained through next
	freeItem int32
	srcs     []fairSource // per-source state; free ones chained through rnext
	freeSrc  int32
	idle     int32   // top of the stack of sources that may hold nothing (chained through inext), or -1
	index    []int32 // open addressing by hash: source index+1, 0 empty; a prefix of indexAll
	indexAll []int32 // the index's whole room, reserved up front
	cursor   int32   // source the reader serves next, -1 when empty
	held     int     // elements in the buffer
	written  uint64
	read     uint64
	dropped  uint64

	// Who holds the most, kept only while exact (see rebuild and relax).
	exact     bool
	buckets   []int32 // buckets[c]: first source holding c elements, or -1
	maxCount  int32   // count of the heaviest source (0 when empty); while not exact, the highest bucket that may not be empty
	exactRead uint64  // exact lasts at least until read reaches this

	reported uint64 // drops passed to alert; reader only
	w        waiter
	room     room // writers waiting for room (WaitRoom); guarded by mu

	bc    *byteCap[T] // WithMaxBytes, or nil: only its max and size are used
	bytes int64       // bytes held; guarded by mu
}

type fairItem[T any] struct {
	val  T
	next int32 // next element of the same source, or of the free list
}

// fairSource is one source: its queue, its place in the reader's round
// and, while the buffer keeps them, in the count bucket of its size. A
// source that holds nothing keeps its entry and its place in the index (so
// that a source which writes about as fast as the reader reads does not
// leave and join on every element); it then leaves the round, and is in
// the idle stack until it writes again or a new source takes its entry.
//
// The idle stack is kept lazily: a source goes on it when it comes to
// hold nothing and is not on it already, and stays on it when it writes
// again; a new source that needs an entry takes the first source on the
// stack that holds nothing, taking off those that hold something. So
// every source that holds nothing is on the stack, each at most once.
type fairSource struct {
	hash         uint64
	head, tail   int32 // oldest and newest element (neither kept while count is 0)
	count        int32
	inext        int32 // next on the idle stack, -1 at its end; notIdle when not on it
	bprev, bnext int32 // count bucket list, while exact
	rprev, rnext int32 // reader's round (circular)
}

// notIdle marks a source that is not on the idle stack.
const notIdle = -2

var _ Buffer[int] = (*Fair[int])(nil)

// NewFair returns a Fair buffer holding up to size elements, whose
// elements belong to the source key(v) returns. key is called once per
// Set and must not allocate if Set is to stay allocation-free. It returns
// ErrInvalidSize when size < 1 and ErrNilKey when key is nil.
func NewFair[T any](size int, key func(T) string, opts ...Option) (*Fair[T], error) {
	c, err := newConfig(size, opts)
	if err != nil {
		return nil, err
	}
	if key == nil {
		return nil, ErrNilKey
	}
	bc, err := newByteCap[T](c)
	if err != nil {
		return nil, err
	}
	if int64(size) > 1<<30 {
		return nil, ErrInvalidSize
	}
	idx := 2
	for idx < 2*size {
		idx <<= 1
	}
	f := &Fair[T]{
		key:      key,
		seed:     NewKeySeed(),
		tally:    c.tally,
		alert:    c.alert,
		items:    make([]fairItem[T], size),
		srcs:     make([]fairSource, size),
		indexAll: make([]int32, idx),
		buckets:  make([]int32, size+1),
		cursor:   -1,
		idle:     -1,
		w:        newWaiter(),
		bc:       bc,
	}
	// The index starts small, so that the few sources of most buffers
	// find it in the cache, and grows into its room as sources come.
	f.index = f.indexAll[:min(idx, 64)]
	for i := range f.items {
		f.items[i].next = int32(i + 1)
		f.srcs[i].rnext = int32(i + 1)
	}
	f.items[size-1].next, f.srcs[size-1].rnext = -1, -1
	for i := range f.buckets {
		f.buckets[i] = -1
	}
	return f, nil
}

// Set adds v to its source's queue. When the buffer is full it first drops
// the oldest element of the heaviest source (counted in Stats.Dropped at
// once). It never waits for the reader.
func (f *Fair[T]) Set(v T) { f.SetKeyed(v, f.key(v)) }

// SetKeyed is Set for a caller that already knows v's key (it must be
// what the key function returns for v): a rate limiter in front of the
// buffer that has read it saves the buffer reading it again.
func (f *Fair[T]) SetKeyed(v T, k string) { f.SetHashed(v, k, f.seed.Hash(k)) }

// Seed returns the seed of the buffer's hash of keys, for SetHashed.
func (f *Fair[T]) Seed() KeySeed { return f.seed }

// SetHashed is SetKeyed for a caller that has also hashed the key: h must
// be f.Seed().Hash(k). A rate limiter that hashes the key for its own
// table with the same seed saves the buffer hashing it again.
func (f *Fair[T]) SetHashed(v T, k string, h uint64) {
	var sz int64
	if f.bc != nil {
		sz = f.bc.sizeOf(v)
	}
	var lost T
	f.mu.Lock()
	_, got := f.put(f.lookup(h), v, h, sz, &lost)
	f.mu.Unlock()
	if got != refused {
		f.w.signal()
	}
	if f.tally != nil {
		switch got {
		case lostSelf, refused:
			f.tally.Count(k, 1, 1)
		case lostOther:
			f.tally.Count(k, 1, 0)
			f.tally.Count(f.key(lost), 0, 1)
		default:
			f.tally.Count(k, 1, 0)
		}
	}
}

// SetBatch is SetKeyed(vs[i], keys[i]) for every i, taking the lock once
// for the batch. The tally hears of the elements dropped to make room
// while the lock is held (as with WithMaxBytes), and of the writes after.
func (f *Fair[T]) SetBatch(vs []T, keys []string) {
	var hs [batchChunk]uint64
	for len(vs) > 0 {
		n := min(len(vs), batchChunk)
		k := keys[:n]
		for i := range k {
			if i > 0 && sameKey(k[i], k[i-1]) {
				hs[i] = hs[i-1] // a run of one source: hash it once
			} else {
				hs[i] = f.seed.Hash(k[i])
			}
		}
		f.SetHashedBatch(vs[:n], k, hs[:n])
		vs, keys = vs[n:], keys[n:]
	}
}

// sameKey is a == b, with the last bytes compared first: keys of one
// batch often share a long prefix (source IDs numbered at the end).
func sameKey(a, b string) bool {
	return len(a) == len(b) && (a == "" || a[len(a)-1] == b[len(b)-1]) && a == b
}

// batchChunk is how many elements SetBatch hashes at a time (on the
// stack) before it takes the lock.
const batchChunk = 64

// SetHashedBatch is SetHashed(vs[i], keys[i], hs[i]) for every i, taking
// the lock once for the batch; hs[i] must be f.Seed().Hash(keys[i]). The
// tally hears of the elements dropped to make room while the lock is held
// (as with WithMaxBytes), and of the writes after. A run of elements of
// one source looks the source up once.
func (f *Fair[T]) SetHashedBatch(vs []T, keys []string, hs []uint64) {
	if len(vs) == 0 {
		return
	}
	keys, hs = keys[:len(vs)], hs[:len(vs)]
	f.mu.Lock()
	s := int32(-1)
	for i := 0; i < len(vs); i++ {
		if !f.exact && f.bc == nil {
			// The common case (room, known sources, no bound in bytes),
			// for as long as it lasts.
			n := f.putQuick(vs[i:], hs[i:])
			if i += n; i == len(vs) {
				break
			}
			if n > 0 {
				s = -1 // not known here
			}
		}
		if s < 0 || i == 0 || hs[i] != hs[i-1] {
			s = f.lookup(hs[i])
		}
		// Else s is the source of the element before: it is in the index
		// still, as only a new source takes another's entry.
		v := vs[i]
		var sz int64
		if f.bc != nil {
			sz = f.bc.sizeOf(v)
		}
		var lost T
		var got int
		s, got = f.put(s, v, hs[i], sz, &lost)
		if f.tally != nil {
			switch got {
			case lostSelf, refused:
				f.tally.Count(keys[i], 0, 1)
			case lostOther:
				f.tally.Count(f.key(lost), 0, 1)
			}
		}
	}
	f.mu.Unlock()
	f.w.signal()
	if f.tally != nil {
		// One call per run of one source.
		for i := 0; i < len(keys); {
			j := i + 1
			for j < len(keys) && keys[j] == keys[i] {
				j++
			}
			f.tally.Count(keys[i], uint64(j-i), 0)
			i = j
		}
	}
}

// What put did besides adding the element.
const (
	lostNone  = iota
	lostSelf  // dropped the oldest of the writer's own source
	lostOther // dropped the oldest of another source, returned
	refused   // the element alone is over the bound in bytes: not added
)

// put adds v (of hash h, sz bytes) to source s (f.lookup(h), -1 when h
// has none) under f.mu, dropping an element first when the buffer is
// full; it counts the write and the drop, and stores an element it
// dropped from another source in *lost (for the tally). It returns the
// source of h, which it adds when there was none (unless it refused v).
func (f *Fair[T]) put(s int32, v T, h uint64, sz int64, lost *T) (_ int32, got int) {
	f.written++
	if f.bc != nil && f.bytes+sz > f.bc.max {
		if f.shedBytes(s, sz) {
			return s, refused
		}
	}
	if f.held == len(f.items) {
		victim := f.victim(s)
		l := f.pop(victim)
		f.dropped++
		if victim == s {
			got = lostSelf
		} else {
			got, *lost = lostOther, l
		}
	}
	switch {
	case s < 0:
		s = f.addSource(h)
	case f.srcs[s].count == 0:
		f.join(s)
	}
	f.push(s, v)
	f.bytes += sz
	return s, got
}

// victim returns the source to drop from: the writer's source s when it
// is one of the heaviest, else a heaviest one. The buffer holds elements.
func (f *Fair[T]) victim(s int32) int32 {
	if !f.exact {
		f.rebuild()
	}
	if s >= 0 && f.srcs[s].count == f.maxCount {
		return s
	}
	return f.buckets[f.maxCount]
}

// rebuild makes the count buckets exact, from the counts of the sources
// in the reader's round (every source that holds elements, and only
// those), and keeps them exact at least until the reader has taken as
// many elements as the rebuild cost (see relax), so that its cost is
// paid once for at least as many reads.
func (f *Fair[T]) rebuild() {
	work := int(f.maxCount) + 1
	for c := int32(1); c <= f.maxCount; c++ {
		f.buckets[c] = -1 // left from when the buckets were last exact
	}
	var m int32
	if c := f.cursor; c >= 0 {
		for s := c; ; {
			src := &f.srcs[s]
			f.bucket(s)
			m = max(m, src.count)
			work++
			if s = src.rnext; s == c {
				break
			}
		}
	}
	f.maxCount = m
	f.exact = true
	f.exactRead = f.read + uint64(work)
}

// relax stops keeping the count buckets once the buffer is back to at
// most half full, in elements and in bytes, after the reads the last
// rebuild asked for; the reader calls it, under f.mu, while exact. The
// buckets are left as they are: rebuild clears them.
func (f *Fair[T]) relax() {
	if f.held <= len(f.items)/2 && f.read >= f.exactRead && (f.bc == nil || f.bytes <= f.bc.max/2) {
		f.exact = false
	}
}

// TryNext returns the next element, or false when there is none. It first
// reports the drops made since its previous report to the alert callback.
func (f *Fair[T]) TryNext() (v T, ok bool) {
	f.mu.Lock()
	dropped := f.dropped
	if f.held > 0 {
		s := f.cursor
		f.cursor = f.srcs[s].rnext // before pop, which may remove s
		v, ok = f.pop(s), true
		f.read++
		if f.room.ch != nil {
			f.roomRead()
		}
		if f.exact {
			f.relax()
		}
	}
	f.mu.Unlock()
	f.report(dropped)
	return v, ok
}

// TryNextN appends up to n elements to dst, in the order TryNext would
// return them, taking the lock once for all of them; it returns dst
// unchanged when there is none. A reader that takes what is there in
// bursts (a router's routing loop) pays for the lock once a burst rather
// than once an element. It reports drops to the alert callback as TryNext
// does.
func (f *Fair[T]) TryNextN(dst []T, n int) []T {
	f.mu.Lock()
	dropped := f.dropped
	k := max(min(n, f.held), 0)
	if !f.exact && f.bc == nil {
		dst = f.popQuick(dst, k)
	} else {
		for range k {
			s := f.cursor
			f.cursor = f.srcs[s].rnext // before pop, which may remove s
			dst = append(dst, f.pop(s))
		}
	}
	f.read += uint64(k)
	if k > 0 && f.room.ch != nil {
		f.roomRead()
	}
	if f.exact {
		f.relax()
	}
	f.mu.Unlock()
	f.report(dropped)
	return dst
}

// report passes to the alert callback the drops up to dropped that it
// has not been told of yet. Reader only, outside the lock.
func (f *Fair[T]) report(dropped uint64) {
	if dropped != f.reported {
		missed := dropped - f.reported
		f.reported = dropped
		f.alert(int(missed))
	}
}

// Next returns the next element, sleeping while there is none, or
// ctx.Err() once ctx is done.
func (f *Fair[T]) Next(ctx context.Context) (T, error) {
	return waitNext(ctx, &f.w, f.TryNext, func() {})
}

// Stats returns a snapshot of the counters. All three are exact at every
// instant: Written == Read + Dropped + the elements held.
func (f *Fair[T]) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Stats{Written: f.written, Read: f.read, Dropped: f.dropped, Bytes: uint64(f.bytes)}
}

// Len returns the number of elements held.
func (f *Fair[T]) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held
}

// lookup returns the source with hash h, or -1.
func (f *Fair[T]) lookup(h uint64) int32 {
	mask := uint64(len(f.index) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := f.index[i]
		if e == 0 {
			return -1
		}
		if f.srcs[e-1].hash == h {
			return e - 1
		}
	}
}

// addSource takes an entry for h, with no elements yet, and puts it into
// the index and the reader's round (see join). The entry is a free one or,
// when none is left, that of the first source on the idle stack that
// holds nothing, which leaves the index. One of the two always exists:
// there are as many entries as the buffer holds elements, and Set drops
// one first when full; every source that holds nothing is on the stack.
func (f *Fair[T]) addSource(h uint64) int32 {
	s := f.freeSrc
	if s >= 0 {
		f.freeSrc = f.srcs[s].rnext
		if 2*int(s+1) > len(f.index) {
			f.growIndex(s)
		}
	} else {
		for {
			s = f.idle
			src := &f.srcs[s]
			f.idle, src.inext = src.inext, notIdle
			if src.count == 0 {
				break
			}
		}
		f.unindex(s)
	}
	f.srcs[s] = fairSource{hash: h, head: -1, tail: -1, inext: notIdle, bprev: -1, bnext: -1}
	f.indexPut(s)
	f.join(s)
	return s
}

// indexPut adds entry s, by its hash, to the index.
func (f *Fair[T]) indexPut(s int32) {
	mask := uint64(len(f.index) - 1)
	i := f.srcs[s].hash & mask
	for f.index[i] != 0 {
		i = (i + 1) & mask
	}
	f.index[i] = s + 1
}

// growIndex doubles the index, within its room, before entry s (the next
// free one) joins it. Free entries are taken in order and never given
// back, so the sources in the index are exactly entries 0 to s-1.
func (f *Fair[T]) growIndex(s int32) {
	f.index = f.indexAll[:2*len(f.index)]
	clear(f.index)
	for j := range s {
		f.indexPut(j)
	}
}

// join puts s into the reader's round just before the cursor, so that it
// is served after every source already waiting.
func (f *Fair[T]) join(s int32) {
	src := &f.srcs[s]
	if f.cursor < 0 {
		src.rprev, src.rnext = s, s
		f.cursor = s
	} else {
		c := &f.srcs[f.cursor]
		src.rprev, src.rnext = c.rprev, f.cursor
		f.srcs[c.rprev].rnext = s
		c.rprev = s
	}
}

// rest takes s, which now holds no elements, out of the reader's round
// and onto the idle stack (unless it is on it); it keeps its place in the
// index.
func (f *Fair[T]) rest(s int32) {
	src := &f.srcs[s]
	if src.rnext == s {
		f.cursor = -1
	} else {
		f.srcs[src.rprev].rnext = src.rnext
		f.srcs[src.rnext].rprev = src.rprev
		if f.cursor == s {
			f.cursor = src.rnext
		}
	}
	if src.inext == notIdle {
		src.inext, f.idle = f.idle, s
	}
}

// unindex takes s out of the index.
func (f *Fair[T]) unindex(s int32) {
	// Backward-shift deletion keeps linear probing free of tombstones.
	mask := uint64(len(f.index) - 1)
	i := f.srcs[s].hash & mask
	for f.index[i] != s+1 {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; f.index[j] != 0; j = (j + 1) & mask {
		home := f.srcs[f.index[j]-1].hash & mask
		// Move j's entry into the hole at i unless its home lies in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			f.index[i] = f.index[j]
			i = j
		}
	}
	f.index[i] = 0
}

// push appends v to the queue of s.
func (f *Fair[T]) push(s int32, v T) {
	it := f.freeItem
	item := &f.items[it]
	f.freeItem = item.next
	item.val, item.next = v, -1
	src := &f.srcs[s]
	if src.count == 0 {
		src.head = it
	} else {
		f.items[src.tail].next = it
	}
	src.tail = it
	src.count++
	f.held++
	if f.exact {
		if src.count > 1 {
			f.unbucket(s, src.count-1)
		}
		f.bucket(s)
		f.maxCount = max(f.maxCount, src.count)
	}
}

// pop removes and returns the oldest element of s, freeing s when it
// becomes empty.
func (f *Fair[T]) pop(s int32) T {
	src := &f.srcs[s]
	it := src.head
	item := &f.items[it]
	v := item.val
	if f.bc != nil {
		f.bytes -= f.bc.sizeOf(v)
	}
	var zero T
	item.val = zero // let the GC have what v points to once the caller drops it
	src.head = item.next
	item.next = f.freeItem
	f.freeItem = it
	src.count--
	f.held--
	if f.exact {
		f.unbucket(s, src.count+1)
		if src.count+1 == f.maxCount && f.buckets[f.maxCount] < 0 {
			f.maxCount = src.count // s was the only source this heavy
		}
		if src.count > 0 {
			f.bucket(s)
		}
	}
	if src.count == 0 {
		f.rest(s)
	}
	return v
}

// bucket puts s at the front of the list of its count.
func (f *Fair[T]) bucket(s int32) {
	src := &f.srcs[s]
	first := f.buckets[src.count]
	src.bprev, src.bnext = -1, first
	if first >= 0 {
		f.srcs[first].bprev = s
	}
	f.buckets[src.count] = s
}

// unbucket takes s out of the list of count c (c > 0), where it is.
func (f *Fair[T]) unbucket(s, c int32) {
	src := &f.srcs[s]
	if src.bprev >= 0 {
		f.srcs[src.bprev].bnext = src.bnext
	} else {
		f.buckets[c] = src.bnext
	}
	if src.bnext >= 0 {
		f.srcs[src.bnext].bprev = src.bprev
	}
}
