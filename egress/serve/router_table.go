package serve

import (
	"hash/maphash"
	"sync/atomic"
)

// routerTable maps a source ID to the routing bucket of the selectors that
// name it. It is a copy-on-write hash table built for one writer (the
// router's subscribe/unsubscribe path, under Router.mu) and lock-free
// readers (Publish):
//
//   - a lookup hashes the key, loads one slot's chain with an atomic load
//     and scans it (chains are short: the table doubles when it holds more
//     keys than slots);
//   - chains and buckets are immutable once stored: an update builds a new
//     chain for one slot and stores it; a reader holding the old chain
//     sees the state before the update, never a half-built one;
//   - growing builds a whole new table and the router swaps it in with an
//     atomic store; the old one is never written again.
//
// A reader may therefore act on a state a few updates old; the router's
// unsubscribe barrier (see Router.routerUnsubscribe) makes sure no reader
// still holds a state that contains a removed subscription before that
// subscription's counts are final.
type routerTable struct {
	seed  maphash.Seed
	mask  uint64
	slots []atomic.Pointer[routerChain]
	keys  int // writer only
}

type routerChain struct {
	keys    []string
	buckets []*routerBucket
}

func newRouterTable(slots int, seed maphash.Seed) *routerTable {
	return &routerTable{seed: seed, mask: uint64(slots - 1), slots: make([]atomic.Pointer[routerChain], slots)}
}

// lookup returns the bucket for key, or nil. It does not allocate.
func (t *routerTable) lookup(key string) *routerBucket {
	c := t.slots[maphash.String(t.seed, key)&t.mask].Load()
	if c == nil {
		return nil
	}
	for i, k := range c.keys {
		if k == key {
			return c.buckets[i]
		}
	}
	return nil
}

// set stores b for key (removes key when b is nil) and returns the table to
// use from now on: t itself, or a grown copy the caller must publish.
func (t *routerTable) set(key string, b *routerBucket) *routerTable {
	slot := &t.slots[maphash.String(t.seed, key)&t.mask]
	old := slot.Load()
	next := &routerChain{}
	found := false
	if old != nil {
		next.keys = make([]string, 0, len(old.keys)+1)
		next.buckets = make([]*routerBucket, 0, len(old.keys)+1)
		for i, k := range old.keys {
			if k == key {
				found = true
				if b == nil {
					continue
				}
				next.keys = append(next.keys, k)
				next.buckets = append(next.buckets, b)
				continue
			}
			next.keys = append(next.keys, k)
			next.buckets = append(next.buckets, old.buckets[i])
		}
	}
	if !found && b != nil {
		next.keys = append(next.keys, key)
		next.buckets = append(next.buckets, b)
		t.keys++
	}
	if found && b == nil {
		t.keys--
	}
	if len(next.keys) == 0 {
		next = nil
	}
	slot.Store(next)
	if t.keys <= len(t.slots) {
		return t
	}
	// Grow: rehash every key into a table twice the size.
	g := newRouterTable(2*len(t.slots), t.seed)
	for i := range t.slots {
		c := t.slots[i].Load()
		if c == nil {
			continue
		}
		for j, k := range c.keys {
			g.set(k, c.buckets[j])
		}
	}
	return g
}
