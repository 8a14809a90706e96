package limit

// bulkReader is a buffer that hands over several envelopes under one
// synchronization (diode.Fair's TryNextN).
type bulkReader interface {
	TryNextN(dst [][]byte, n int) [][]byte
}

// tryNextN takes up to n envelopes from buf, in bulk when it can.
func tryNextN(buf interface{ TryNext() ([]byte, bool) }, dst [][]byte, n int) [][]byte {
	if b, ok := buf.(bulkReader); ok {
		return b.TryNextN(dst, n)
	}
	for range n {
		v, ok := buf.TryNext()
		if !ok {
			break
		}
		dst = append(dst, v)
	}
	return dst
}

// TryNextN appends up to n of the wrapped buffer's envelopes to dst, in
// the order TryNext would return them; behind a fair buffer it takes the
// buffer's lock once for all of them.
func (l *Limiter) TryNextN(dst [][]byte, n int) [][]byte {
	if l.fair != nil {
		return l.fair.TryNextN(dst, n)
	}
	if l.ring != nil {
		return tryNextN(l.ring, dst, n)
	}
	return tryNextN(l.next, dst, n)
}

// TryNextN appends up to n envelopes to dst, in the order TryNext would
// return them, taking a fair buffer's lock once for all of them.
func (b *Buffer) TryNextN(dst [][]byte, n int) [][]byte {
	return tryNextN(b.Buffer, dst, n)
}
