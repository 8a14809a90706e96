package diode

// shedBytes makes room for sz more bytes in a Fair bounded in bytes, under
// f.mu: it drops the oldest element of the heaviest source (the writer's
// own source first among the heaviest, as when the buffer is full) until
// the new element fits. s is the writer's source (or -1); shedBytes returns
// it, -1 once it has lost its last element. It returns self true when the
// new element alone is larger than the bound: it is then dropped itself
// (counted here) and nothing else is.
//
// The tally hears of each element dropped to make room here, under f.mu;
// a Tally does not call back into the buffer, so this cannot deadlock.
func (f *Fair[T]) shedBytes(s int32, sz int64) (int32, bool) {
	if sz > f.bc.max {
		f.dropped++
		return s, true
	}
	for f.held > 0 && f.bytes+sz > f.bc.max {
		victim := f.buckets[f.maxCount]
		if s >= 0 && f.srcs[s].count == f.maxCount {
			victim = s
		}
		lost := f.pop(victim)
		f.dropped++
		if victim == s && f.srcs[s].count == 0 {
			s = -1 // pop freed the writer's source
		}
		if f.tally != nil {
			f.tally.Count(f.key(lost), 0, 1)
		}
	}
	return s, false
}
