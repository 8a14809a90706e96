package serve

import "sync/atomic"

// subWaker lets a subscription's reader sleep while its buffer is empty and
// lets the router wake it, at no cost to the router while the reader is
// awake (the same protocol as the diodes' own waiter):
//
//	reader                        router
//	sleeping = true               write the envelope into the buffer
//	look at buffer  --- empty?    sleeping? -- yes --> CAS true->false, send token
//	block on ch     <----------------------------------'
//
// Both sides use sequentially consistent atomics, so either the reader's
// last look sees the envelope or the router sees the flag. A token left
// from a sleep that found an envelope on its last look costs one more look.
//
// The router signals once per burst of Run's, after the burst: a sleeping
// reader wakes once and finds the whole burst, instead of waking at the
// first envelope and racing the router through the rest.
//
// A reader that wants a batch's worth (WaitFill) sleeps until the router
// has written that many since it went to sleep: written counts the
// router's writes (added once per burst) and target is the count to wake
// it at. A reader that wants the next envelope (Next) sets target to one
// more than written.
//
// WaitFill also sets a target in bytes (writtenBytes, targetBytes), so
// that a buffer bounded in bytes wakes its reader before it fills with
// large envelopes.
type subWaker struct {
	sleeping     atomic.Bool
	written      atomic.Uint64 // envelopes the router wrote, added after writing them
	target       atomic.Uint64 // wake the sleeping reader once written reaches it
	writtenBytes atomic.Uint64 // their bytes
	targetBytes  atomic.Uint64 // or once writtenBytes reaches this
	ch           chan struct{}
}

// signal counts n envelopes of size bytes in all written and wakes the
// reader if it sleeps and they make one of its targets; called after
// writing them.
func (w *subWaker) signal(n, size int) {
	c := w.written.Add(uint64(n))
	b := w.writtenBytes.Add(uint64(size))
	if w.sleeping.Load() && (c >= w.target.Load() || b >= w.targetBytes.Load()) && w.sleeping.CompareAndSwap(true, false) {
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
}
