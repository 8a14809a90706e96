package diode

import "slices"

// The loops of this file are push, pop and the index lookup written out
// for the common case of a buffer that is not keeping its count buckets
// (see Fair.rebuild) and has no bound in bytes, with the buffer's slices
// in locals: for a batch of writes or reads under one lock they cost
// about half of what the general path does.

// putQuick writes vs (of hashes hs) as put would, under f.mu, from the
// first for as long as the buffer has room and each element's source is
// in the index; it returns how many it wrote. The buffer is not exact and
// has no bound in bytes. It looks up a chunk of sources, then pushes the
// chunk's elements: two short loops keep their state in registers.
func (f *Fair[T]) putQuick(vs []T, hs []uint64) int {
	var ss [batchChunk]int32
	done := 0
	for done < len(vs) {
		n := min(len(vs)-done, len(f.items)-f.held, batchChunk)
		if n == 0 {
			break // full: put drops first
		}
		m := f.lookupAll(hs[done:done+n], ss[:n])
		f.pushAll(vs[done:done+m], ss[:m])
		if done += m; m < n {
			break
		}
	}
	return done
}

// lookupAll sets ss[i] to the source of hs[i], from the first for as long
// as there is one, and returns how many it set.
func (f *Fair[T]) lookupAll(hs []uint64, ss []int32) int {
	srcs, index := f.srcs, f.index
	mask := uint64(len(index) - 1)
	ss = ss[:len(hs)]
	for i, h := range hs {
		if i > 0 && h == hs[i-1] {
			ss[i] = ss[i-1] // a run of one source
			continue
		}
		for j := h & mask; ; j = (j + 1) & mask {
			e := index[j]
			if e == 0 {
				return i // a new source: put adds it
			}
			if srcs[e-1].hash == h {
				ss[i] = e - 1
				break
			}
		}
	}
	return len(hs)
}

// pushAll pushes vs[i] to source ss[i] for every i, joining the round
// those that held nothing; there is room for all of them.
func (f *Fair[T]) pushAll(vs []T, ss []int32) {
	srcs, items := f.srcs, f.items
	free, cursor := f.freeItem, f.cursor
	vs = vs[:len(ss)]
	for i, s := range ss {
		it := free
		item := &items[it]
		free = item.next
		item.val, item.next = vs[i], -1
		src := &srcs[s]
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
	f.held += len(ss)
	f.written += uint64(len(ss))
}

// popQuick appends the next k elements (k <= f.held) to dst as k pops
// from the cursor would, under f.mu; the caller counts them read. The
// buffer is not exact and has no bound in bytes.
func (f *Fair[T]) popQuick(dst []T, k int) []T {
	srcs, items := f.srcs, f.items
	free, cursor, idle := f.freeItem, f.cursor, f.idle
	var zero T
	dst = slices.Grow(dst, k)
	out := dst[len(dst) : len(dst)+k]
	for j := range out {
		s := cursor
		src := &srcs[s]
		it := src.head
		item := &items[it]
		out[j] = item.val
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
	return dst[:len(dst)+k]
}
