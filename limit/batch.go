package limit

import (
	"math/bits"

	"github.com/sluicelog/sluice/diode"
)

// The Limiter, NewFair's buffer and Buffer take envelopes with their
// source IDs from a writer that has read them (an ingress server, while
// validating), singly or a batch at a time.
var (
	_ diode.Keyed[[]byte] = (*Limiter)(nil)
	_ diode.Keyed[[]byte] = (*sourceFair)(nil)
	_ diode.Keyed[[]byte] = (*Buffer)(nil)
)

// chunk is how many envelopes of a batch a Limiter decides on under one
// lock: one bit each of a word.
const chunk = 64

// SetBatch is SetKeyed(es[i], ids[i]) for every i: the source IDs were
// read by the caller (ids[i] must be SourceID(es[i])). It reads the clock
// and takes the lock once per 64 envelopes, looks a source up once per
// run of its envelopes, and hands what passes to the buffer a run at a
// time (to NewFair's buffer with the hashes it has made).
func (l *Limiter) SetBatch(es [][]byte, ids []string) {
	for len(es) > 0 {
		n := min(len(es), chunk)
		l.setChunk(es[:n], ids[:n])
		es, ids = es[n:], ids[n:]
	}
}

// setChunk is SetBatch for at most chunk envelopes.
func (l *Limiter) setChunk(es [][]byte, ids []string) {
	ids = ids[:len(es)]
	var hs [chunk]uint64
	for i, id := range ids {
		if i > 0 && sameID(id, ids[i-1]) {
			hs[i] = hs[i-1]
		} else {
			hs[i] = l.seed.Hash(id)
		}
	}
	now := l.nowNs()
	var pass, direct uint64 // bit i: es[i] passes; the Summary must hear of it directly
	l.mu.Lock()
	l.written += uint64(len(es))
	var s *source
	for i := range ids {
		if i == 0 || hs[i] != hs[i-1] || s == &l.overflow {
			if j := l.tab.get(hs[i]); j >= 0 {
				s = &l.srcs[j]
			} else {
				s = l.source(hs[i], ids[i], now)
			}
		}
		// Else the row of the envelope before: no other row was added
		// since, so s still points into l.srcs. (A source in the overflow
		// row is looked up again, as Set does, for a place freed since.)
		ok, d := l.take(s, now)
		pass |= b2u(ok) << i
		direct |= b2u(d) << i
	}
	l.mu.Unlock()
	all := uint64(1)<<len(es) - 1
	if len(es) == chunk {
		all = ^uint64(0)
	}
	if pass == all {
		l.forward(es, ids, hs[:len(es)])
	} else {
		// Hand over each run of envelopes that pass.
		for m := pass; m != 0; {
			i := bits.TrailingZeros64(m)
			j := i + bits.TrailingZeros64(^(m >> i))
			l.forward(es[i:j], ids[i:j], hs[i:j])
			if j == 64 {
				break
			}
			m &^= 1<<j - 1
		}
	}
	for m := direct; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		l.sum.Count(ids[i], 1, b2u(pass>>i&1 == 0))
	}
}

// sameID is a == b, with the last bytes compared first: the source IDs
// of a batch often share a long prefix (numbered at the end).
func sameID(a, b string) bool {
	return len(a) == len(b) && (a == "" || a[len(a)-1] == b[len(b)-1]) && a == b
}

// forward hands envelopes that passed to the buffer.
func (l *Limiter) forward(es [][]byte, ids []string, hs []uint64) {
	switch {
	case l.fair != nil:
		l.fair.SetHashedBatch(es, ids, hs)
		return
	case l.ring != nil:
		for _, e := range es {
			l.ring.Set(e)
		}
		return
	}
	for _, e := range es {
		l.next.Set(e)
	}
}

// SetBatch is SetKeyed(es[i], ids[i]) for every i, for a Buffer of the
// ring policy that counts in its Summary.
func (c *counted) SetBatch(es [][]byte, ids []string) {
	for i, e := range es {
		c.SetKeyed(e, ids[i])
	}
}

// SetKeyed is Set for an e whose source ID the caller has read.
func (c *counted) SetKeyed(e []byte, id string) {
	c.sum.Count(id, 1, 0)
	c.Buffer.Set(e)
}

// SetKeyed is Set for an e whose source ID the caller has read already
// (it must be SourceID(e)): the buffer does not read it again.
func (b *Buffer) SetKeyed(e []byte, id string) {
	if b.keyed != nil {
		b.keyed.SetKeyed(e, id)
		return
	}
	b.Buffer.Set(e)
}

// SetBatch is SetKeyed(es[i], ids[i]) for every i; a Limiter and the fair
// policy's buffer take their locks once per batch (see Limiter.SetBatch).
func (b *Buffer) SetBatch(es [][]byte, ids []string) {
	if b.keyed != nil {
		b.keyed.SetBatch(es, ids)
		return
	}
	for _, e := range es {
		b.Buffer.Set(e)
	}
}
