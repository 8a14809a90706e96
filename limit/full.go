package limit

// Full reports whether the policy's buffer is full (the fair policy's
// diode.Fair holds all it can). A ring never reports full: it takes every
// envelope and its reader skips what it was lapped on.
func (b *Buffer) Full() bool {
	f, ok := b.inner.(interface{ Full() bool })
	return ok && f.Full()
}
