package limit

import "github.com/sluicelog/sluice/diode"

// TryNextN appends up to n of the wrapped buffer's envelopes to dst, in
// the order TryNext would return them; behind a fair buffer it takes the
// buffer's lock once for all of them.
func (l *Limiter) TryNextN(dst [][]byte, n int) [][]byte {
	if l.fair != nil {
		return l.fair.TryNextN(dst, n)
	}
	if l.ring != nil {
		return diode.TryNextN(l.ring, dst, n)
	}
	return diode.TryNextN(l.next, dst, n)
}

// TryNextN appends up to n envelopes to dst, in the order TryNext would
// return them, taking a fair buffer's lock once for all of them.
func (b *Buffer) TryNextN(dst [][]byte, n int) [][]byte {
	return diode.TryNextN(b.Buffer, dst, n)
}
