package diode

// Keyed is a Buffer whose elements each belong to a key (a source), which
// a writer that has already read the keys hands over with the elements,
// so that the buffer does not read them again. What a key is, is agreed by
// writer and buffer: for a Fair buffer, what its key function returns.
//
// SetBatch is for a writer that has a batch in hand (an ingress server
// with a received batch): the buffer may take its locks, and do the work
// common to the batch, once for all of it.
type Keyed[T any] interface {
	Buffer[T]
	// SetKeyed is Set(v) for a v whose key is key.
	SetKeyed(v T, key string)
	// SetBatch is SetKeyed(vs[i], keys[i]) for every i, in order; keys
	// holds at least len(vs) keys. Neither slice is kept.
	SetBatch(vs []T, keys []string)
}

var _ Keyed[int] = (*Fair[int])(nil)

// TryNextN appends to dst up to n elements b holds now, in the order
// TryNext returns them: in one call when b has a TryNextN method of its own
// (Fair takes its lock once for all of them), else one TryNext each.
func TryNextN[T any](b interface{ TryNext() (T, bool) }, dst []T, n int) []T {
	if bulk, ok := b.(interface{ TryNextN(dst []T, n int) []T }); ok {
		return bulk.TryNextN(dst, n)
	}
	for range n {
		v, ok := b.TryNext()
		if !ok {
			break
		}
		dst = append(dst, v)
	}
	return dst
}
