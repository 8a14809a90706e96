package diode

import (
	"runtime"
	"sync/atomic"
)

// This file holds the ring that OneToOne and ManyToOne share: an array of
// slots, each guarded by one atomic word, and the single reader's side.
//
// # The slot word
//
// Each slot holds a value of type T and a 64-bit word:
//
//	word = (seq+1)<<2 | state    (seq: the write number; 0 never written)
//
//	state  meaning                                     who may touch val
//	empty  nothing to read (seq: what was there last)   nobody
//	full   value of write number seq is ready           nobody (claim it first)
//	write  a writer is copying write number seq in      that writer only
//	read   the reader is copying write number seq out   the reader only
//
// A goroutine may touch val only after it moved the word into "write" or
// "read" with a CompareAndSwap, and it gives val back with a Store that moves
// the word to "full" (writer) or "empty" (reader). The CAS and the Store are
// the happens-before edges the race detector sees, so no read or write of T
// is ever unsynchronised; there is no seqlock over plain T and no go:norace.
//
// # What the writer does when the slot is busy
//
// The only time two goroutines want the same slot is when the writer is one
// lap (or more) ahead of the reader, or, in a ManyToOne, when two writers got
// numbers one lap apart. The holder keeps the slot for the few nanoseconds of
// one copy of T, so the other side waits: it re-reads the word, and after a
// few tries calls runtime.Gosched. If the holder's goroutine is descheduled in
// that window, the waiter waits until it runs again; that is the one place
// where Set can wait, and it is bounded by the scheduler, not by the reader's
// speed. The reader never waits: a slot in "write" state reads as "nothing
// yet" (TryNext returns false) and Next then sleeps until the writer's signal.
//
//	reader claims slot 1 to copy 5 out   | F4 | R5 | ...   r:5
//	writer, one lap ahead, comes to write 9 into slot 1:
//	  Load sees R5: tag older than 9, reader busy -> Load again (after
//	  16 tries, runtime.Gosched between tries)
//	reader copies 5 out, Store e5        | F4 | e5 | ...   r:6
//	writer: CAS e5 -> W9, copies 9 in, Store F9
//	                                     | F4 | F9 | ...
//
// In a ManyToOne, a writer that instead finds a later number (in any state)
// in its slot does not wait: its own value is older, so it gives it up.
//
// # Walk-through (size 4; r is the reader's next number, w the writer's)
//
// The pictures show the state letter (e empty, F full, W write, R read) and
// the write number; "--" is a slot never written (word 0).
//
//	1. start                      | -- | -- | -- | -- |        r:0 w:0
//	2. writer claims slot 0       | W0 | -- | -- | -- |        r:0 w:1
//	   (CAS -- -> W0, copies v in; reader calling TryNext now sees W0: false)
//	3. writer publishes           | F0 | -- | -- | -- |        r:0 w:1
//	4. reader claims, copies out  | R0 | -- | -- | -- |        r:0 w:1
//	   and releases               | e0 | -- | -- | -- |        r:1 w:1
//	5. writer writes 1..6         | F4 | F5 | F6 | F3 |        r:1 w:7
//	   (slot 1 still held 1 when 5 came: the writer overwrote it, the value
//	   of write 1 is lost; nobody counts it yet)
//	6. reader at slot 1 finds F5: 5 > r, so writes 1..4 were missed:
//	   Dropped += 4, alert(4), reader reads 5 and moves to r:6
//	                              | F4 | e5 | F6 | F3 |        r:6 w:7
//	7. reader reads 6 (r:7), then finds F3 at slot 3: 3 < r, a stale value
//	   already counted in step 6; it empties the slot and returns false
//	                              | F4 | e5 | e6 | e3 |        r:7 w:7
//	8. the writer writes 7 into slot 3 and the reader reads it, and so on.
//
// These are go-diodes' rules (seq > r: skip and alert; seq < r: discard the
// stale value and report nothing), so both give the same values and the same
// drop counts for the same sequence of calls.
//
// # Why the counts are exact
//
// Every write number below the writers' counter is either read (r moves by
// one) or skipped in exactly one jump of r (counted in Dropped); r never moves
// back and never passes a number twice. Once the writers stop, the slot of
// every number n with r <= n < w holds a value numbered n or later, so the
// reader keeps reading until r == w. Hence Read + Dropped == w == Written.
// A ManyToOne writer that finds a newer number already in its slot gives its
// value up instead of taking a new number (as go-diodes would): its number is
// then skipped by the reader and counted once in Dropped, so Written still
// counts calls to Set.

const (
	stateEmpty uint64 = iota
	stateFull
	stateWrite
	stateRead

	stateBits = 2
	stateMask = 1<<stateBits - 1
)

// The word stores tag = write number + 1, so that 0 means "never written".
func word(n, state uint64) uint64 { return (n+1)<<stateBits | state }

// tagOf returns the tag (write number + 1) of a word.
func tagOf(w uint64) uint64 { return w >> stateBits }

type slot[T any] struct {
	word atomic.Uint64
	val  T
}

// spinsBeforeYield is how often a writer re-reads a busy slot before it
// yields the processor.
const spinsBeforeYield = 16

// put stores v as write number n in s. It returns lost when a later write
// already owns the slot (v is then dropped, counted by the reader when it
// skips n), and collided when it met another writer in the slot.
//
// With a byte bound (bc not nil), the bytes of an unread element that v
// overwrites are released.
func (s *slot[T]) put(n uint64, v T, bc *byteCap[T]) (lost, collided bool) {
	for spins := 0; ; spins++ {
		old := s.word.Load()
		if tagOf(old) > n+1 {
			// A later write holds, held, or is copying into this slot:
			// v is older than what the reader will find here.
			return true, true
		}
		switch old & stateMask {
		case stateWrite:
			// An earlier writer, one lap behind, is copying in.
			collided = true
			fallthrough
		case stateRead:
			// The reader is copying out; it releases in nanoseconds.
			if spins >= spinsBeforeYield {
				runtime.Gosched()
			}
			continue
		}
		if s.word.CompareAndSwap(old, word(n, stateWrite)) {
			if bc != nil && old&stateMask == stateFull {
				bc.release(s.val) // lapped: the unread element is gone
			}
			break
		}
	}
	s.val = v
	s.word.Store(word(n, stateFull))
	return false, collided
}

// putOne is put for a ring with a single writer (OneToOne). The reader
// claims only full slots, so a slot the writer finds empty is the writer's
// alone: it copies v in and publishes with one store, without a claim (one
// locked instruction instead of two). The reader's release store of the
// empty state and the writer's load of it order the reader's last copy out
// before this copy in. A full slot (the writer has lapped the reader, who may
// be claiming it this instant) or one being read takes put's protocol.
func (s *slot[T]) putOne(n uint64, v T, bc *byteCap[T]) {
	if old := s.word.Load(); old&stateMask == stateEmpty && tagOf(old) <= n+1 {
		s.val = v
		s.word.Store(word(n, stateFull))
		return
	}
	s.put(n, v, bc)
}

// started reports whether write number n has claimed (or passed) s: tags in a
// slot only grow, and the reader keeps the tag when it empties the slot.
func (s *slot[T]) started(n uint64) bool { return tagOf(s.word.Load()) >= n+1 }

// publishEvery is how many reads (or OneToOne writes) may pass before the
// counters that Stats reads are stored. Storing on every operation would
// cost one more locked instruction per element; Stats finds the operations
// since the last store in the slots instead (see reader.counts and
// OneToOne.writes).
const publishEvery = 64

// reader is the single reader's side of a ring.
type reader[T any] struct {
	slots []slot[T]
	alert AlertFunc
	bc    *byteCap[T] // WithMaxBytes, or nil
	every uint64      // publish after this many reads: min(publishEvery, size)
	next  uint64      // number the reader expects next (r)
	pos   uint64      // next % len(slots)
	nread uint64      // reads so far
	shown uint64      // nread as last published

	// Published for Stats. ver is odd while the reader stores the three
	// others, so Stats can take them as one consistent snapshot.
	ver     atomic.Uint64
	pubNext atomic.Uint64
	pubRead atomic.Uint64
	dropped atomic.Uint64

	// at is the reader's position, stored after every read: one plain
	// store, no lock. Stats uses it only while the writer laps the reader
	// (see counts), to count what is already overwritten exactly.
	at atomic.Uint64
}

func newReader[T any](size int, alert AlertFunc, bc *byteCap[T]) reader[T] {
	return reader[T]{
		slots: make([]slot[T], size),
		alert: alert,
		bc:    bc,
		every: uint64(min(publishEvery, size)),
	}
}

// publish stores the reader's position and counts for Stats, adding missed
// to the dropped count.
func (r *reader[T]) publish(missed uint64) {
	if r.nread == r.shown && missed == 0 {
		return
	}
	r.shown = r.nread
	r.ver.Add(1)
	r.pubNext.Store(r.next)
	r.pubRead.Store(r.nread)
	if missed > 0 {
		r.dropped.Add(missed)
	}
	r.ver.Add(1)
}

// readerCounts is what counts finds: the read and dropped counts, and
// bounds on the reader's position (the number it expects next): lo <= r <=
// hi. They are equal unless the writer has reused the slot of a read the
// reader has not published yet (see counts).
type readerCounts struct {
	read, dropped uint64
	lo, hi        uint64
}

// counts returns the read and dropped counts for Stats.
//
// Since its last publish at position p, the reader has read p, p+1, ...
// in order (a skip publishes at once), fewer than every of them, and each
// read left its slot empty with the tag of exactly that number:
//
//	published p=8, read=5       slot of 8: e8, slot of 9: e9, slot of 10: F10
//	counts: 5 + 2 (e8, e9 match 8 and 9; F10 does not match e10) = 7
//
// Nothing else leaves "empty, tag n+1" in the slot of n (a stale discard
// happens only below the reader's position), so the scan never counts a
// read that did not happen. It stops early only when a writer has already
// reused the slot of an unpublished read, that is when there is new unread
// data: Read is then behind by less than every, until the reader publishes.
// Because fewer than size reads go unpublished, a slot reused that way holds
// a value the reader has not read yet; so whenever the reader has caught up
// (in particular once it has drained) the count is exact, even if it never
// saw the buffer empty.
//
// The scan also gives the reader's position: it is exactly where the scan
// stopped, unless the slot there holds a later write (the writer lapped the
// reader), in which case the reader may have read up to every-1 numbers
// beyond its published position before the writer came round: the position
// it stored after its last read (at) says how many.
func (r *reader[T]) counts() readerCounts {
	for spins := 0; ; spins++ {
		v := r.ver.Load()
		if v&1 == 0 {
			next, read, dropped := r.pubNext.Load(), r.pubRead.Load(), r.dropped.Load()
			if r.ver.Load() == v {
				size := uint64(len(r.slots))
				c := readerCounts{dropped: dropped}
				n := next
				for ; n < next+r.every; n++ {
					w := r.slots[n%size].word.Load()
					if w != word(n, stateEmpty) {
						if tagOf(w) > n+1 {
							c.hi = min(r.at.Load(), next+r.every-1)
						}
						break
					}
					read++
				}
				c.read, c.lo = read, n
				c.hi = max(c.hi, n)
				return c
			}
		}
		if spins >= spinsBeforeYield {
			runtime.Gosched() // the reader was descheduled mid-publish
		}
	}
}

// overwritten returns how many writes the reader has not reached yet are
// already lost, given that the first written writes had claimed their
// slots before counts ran: every number below written-size, from the
// reader's position on (a later write has claimed its slot). It counts what
// the reader will report as missed when it comes to them, before it does,
// so that Stats shows a lapped reader's loss as it happens. Because written
// is taken before the reader's position, a read the reader made meanwhile
// is never counted as lost.
func (r *reader[T]) overwritten(c readerCounts, written uint64) uint64 {
	size := uint64(len(r.slots))
	if written <= size || written-size <= c.hi {
		return 0
	}
	return written - size - c.hi
}

// tryNext follows go-diodes' TryNext rules; see the walk-through above.
func (r *reader[T]) tryNext() (v T, ok bool) {
	if r.bc != nil {
		// Writes refused for bytes took no write number: the reader
		// reports them here, as a Channel reports its refused writes.
		if missed := r.bc.unreported(); missed > 0 {
			r.alert(int(missed))
		}
	}
	s := &r.slots[r.pos]
	var old uint64
	for {
		old = s.word.Load()
		if old&stateMask != stateFull {
			// Empty, or a writer has not finished copying in.
			r.publish(0)
			return v, false
		}
		if s.word.CompareAndSwap(old, old|stateRead) {
			break
		}
		// A writer claimed the slot between Load and CAS: look again.
	}
	seq := tagOf(old) - 1
	var zero T
	if seq < r.next {
		// Stale: skipped (and counted) in an earlier jump.
		if r.bc != nil {
			r.bc.release(s.val)
		}
		s.val = zero
		s.word.Store(word(seq, stateEmpty))
		r.publish(0)
		return v, false
	}
	v = s.val
	s.val = zero // let the GC have what v points to once the caller drops it
	s.word.Store(word(seq, stateEmpty))
	if r.bc != nil {
		r.bc.release(v)
	}

	r.nread++
	if seq == r.next {
		r.next++
		r.at.Store(r.next)
		r.pos++
		if r.pos == uint64(len(r.slots)) {
			r.pos = 0
		}
		if r.nread%r.every == 0 {
			r.publish(0)
		}
		return v, true
	}
	// The writer lapped us: skip to seq.
	missed := seq - r.next
	r.next = seq + 1
	r.at.Store(r.next)
	r.pos = r.next % uint64(len(r.slots))
	r.publish(missed)
	r.alert(int(missed))
	if r.bc != nil {
		r.releaseStale()
	}
	return v, true
}

// releaseStale gives back the bytes of the elements a jump skipped that
// are still in their slots: writes the reader now counts as missed but
// that no later write has overwritten yet. Without it they would stay
// counted in Stats.Bytes (and in a shared BytePool) until writers came
// round to their slots, which after a burst may be never. The reader
// claims each such slot as it claims one to read, so a writer arriving
// meanwhile waits for it as it would for a read. It costs a pass over the
// ring per jump, and jumps happen at most once per lap of writes.
func (r *reader[T]) releaseStale() {
	var zero T
	for i := range r.slots {
		s := &r.slots[i]
		old := s.word.Load()
		if old&stateMask != stateFull || tagOf(old)-1 >= r.next {
			continue
		}
		if !s.word.CompareAndSwap(old, old|stateRead) {
			continue // a writer claimed it: it releases what it overwrites
		}
		r.bc.release(s.val)
		s.val = zero
		s.word.Store(word(tagOf(old)-1, stateEmpty))
	}
}
