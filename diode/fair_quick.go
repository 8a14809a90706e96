package diode

// The loops of this file are push, pop and the index lookup written out
// for the common case of a buffer that is not keeping its count buckets
// (see Fair.rebuild) and has no bound in bytes, with the buffer's slices
// in locals: for a batch of writes or reads under one lock they cost
// about half of what the general path does.

// putQuick writes vs (of hashes hs) as put would, under f.mu, from the
// first for as long as the buffer has room and each element's source is
// in the index; it returns how many it wrote. The buffer is not exact and
// has no bound in bytes.
func (f *Fair[T]) putQuick(vs []T, hs []uint64) int {
	srcs, items, index := f.srcs, f.items, f.index
	mask := uint64(len(index) - 1)
	n := min(len(vs), len(items)-f.held)
	hs = hs[:n]
	free, cursor := f.freeItem, f.cursor
	var (
		src *fairSource
		s   int32
		h   uint64
		i   int
	)
	for ; i < n; i++ {
		if i == 0 || hs[i] != h {
			h = hs[i]
			s = -1
			for j := h & mask; ; j = (j + 1) & mask {
				e := index[j]
				if e == 0 {
					break
				}
				if srcs[e-1].hash == h {
					s = e - 1
					break
				}
			}
			if s < 0 {
				break // a new source: put adds it
			}
			src = &srcs[s]
		}
		it := free
		item := &items[it]
		free = item.next
		item.val, item.next = vs[i], -1
		if src.count == 0 {
			src.head = it
			// join: into the round just before the cursor
			if cursor < 0 {
				src.rprev, src.rnext = s, s
				cursor = s
			} else {
				c := &srcs[cursor]
				src.rprev, src.rnext = c.rprev, cursor
				srcs[c.rprev].rnext = s
				c.rprev = s
			}
		} else {
			items[src.tail].next = it
		}
		src.tail = it
		src.count++
	}
	f.freeItem, f.cursor = free, cursor
	f.held += i
	f.written += uint64(i)
	return i
}

// popQuick appends the next k elements (k <= f.held) to dst as k pops
// from the cursor would, under f.mu; the caller counts them read. The
// buffer is not exact and has no bound in bytes.
func (f *Fair[T]) popQuick(dst []T, k int) []T {
	srcs, items := f.srcs, f.items
	free, cursor, idle := f.freeItem, f.cursor, f.idle
	var zero T
	for range k {
		s := cursor
		src := &srcs[s]
		it := src.head
		item := &items[it]
		dst = append(dst, item.val)
		item.val = zero // let the GC have what it points to once the caller drops it
		src.head = item.next
		item.next, free = free, it
		cursor = src.rnext
		if src.count--; src.count == 0 {
			// rest: out of the round, onto the idle stack
			if cursor == s {
				cursor = -1
			} else {
				srcs[src.rprev].rnext = cursor
				srcs[cursor].rprev = src.rprev
			}
			if src.inext == notIdle {
				src.inext, idle = idle, s
			}
		}
	}
	f.freeItem, f.cursor, f.idle = free, cursor, idle
	f.held -= k
	return dst
}
