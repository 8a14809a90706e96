package buftest

// Drain reads everything b holds now, one TryNext at a time, in the order
// TryNext returns it; nil when b holds nothing.
func Drain[T any](b interface{ TryNext() (T, bool) }) []T {
	var out []T
	for {
		v, ok := b.TryNext()
		if !ok {
			return out
		}
		out = append(out, v)
	}
}
