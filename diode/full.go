package diode

// Full reports whether the buffer holds as many elements as it can: the
// next Set drops one (the oldest of the heaviest source). A writer that
// would rather not spend work on what it is about to hand to a full buffer
// (an ingress server validating a batch) may shed at its edge instead.
func (f *Fair[T]) Full() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held == len(f.items)
}

// Full reports whether the channel holds as many elements as it can: the
// next Set drops the new element.
func (c *Channel[T]) Full() bool { return len(c.c) == cap(c.c) }
