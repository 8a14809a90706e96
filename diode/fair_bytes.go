package diode

// shedBytes makes room for sz more bytes in a Fair bounded in bytes, under
// f.mu: it drops the oldest element of the heaviest source (the writer's
// own source first among the heaviest, as when the buffer is full) until
// the new element fits. s is the writer's source (or -1); it stays in the
// index when it loses its last element. shedBytes reports true when the
// new element alone is larger than the bound: it is then dropped itself
// (counted here) and nothing else is.
//
// The tally hears of each element dropped to make room here, under f.mu;
// a Tally does not call back into the buffer, so this cannot deadlock.
func (f *Fair[T]) shedBytes(s int32, sz int64) bool {
	if sz > f.bc.max {
		f.dropped++
		return true
	}
	for f.held > 0 && f.bytes+sz > f.bc.max {
		lost := f.pop(f.victim(s))
		f.dropped++
		if f.tally != nil {
			f.tally.Count(f.key(lost), 0, 1)
		}
	}
	return false
}
