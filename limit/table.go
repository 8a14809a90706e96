package limit

// table maps 64-bit hashes to small integers: open addressing with linear
// probing, deletion by backward shift (no tombstones, so lookups stay short
// however many keys come and go). It doubles when a key would make it more
// than half full, so a table made for few keys stays small (and in the
// cache) until more come.
type table struct {
	slots []tslot
	mask  uint64
	n     int // keys
}

type tslot struct {
	hash uint64
	id   int32 // value + 1; 0 is an empty slot
}

// newTable returns a table for up to n keys.
func newTable(n int) table {
	size := 2
	for size < 2*n {
		size <<= 1
	}
	return table{slots: make([]tslot, size), mask: uint64(size - 1)}
}

// get returns the value for h, or -1.
func (t *table) get(h uint64) int32 {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := t.slots[i]
		if s.id == 0 {
			return -1
		}
		if s.hash == h {
			return s.id - 1
		}
	}
}

// put adds h -> v; h must not be present.
func (t *table) put(h uint64, v int32) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	t.n++
	i := h & t.mask
	for t.slots[i].id != 0 {
		i = (i + 1) & t.mask
	}
	t.slots[i] = tslot{hash: h, id: v + 1}
}

// grow doubles the table.
func (t *table) grow() {
	old := t.slots
	t.slots = make([]tslot, 2*len(old))
	t.mask = uint64(len(t.slots) - 1)
	for _, s := range old {
		if s.id != 0 {
			i := s.hash & t.mask
			for t.slots[i].id != 0 {
				i = (i + 1) & t.mask
			}
			t.slots[i] = s
		}
	}
}

// reset removes every key.
func (t *table) reset() {
	clear(t.slots)
	t.n = 0
}

// del removes h, which must be present.
func (t *table) del(h uint64) {
	t.n--
	i := h & t.mask
	for t.slots[i].hash != h || t.slots[i].id == 0 {
		i = (i + 1) & t.mask
	}
	for j := (i + 1) & t.mask; t.slots[j].id != 0; j = (j + 1) & t.mask {
		home := t.slots[j].hash & t.mask
		// Move j's key into the hole at i unless its home lies
		// cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = tslot{}
}
