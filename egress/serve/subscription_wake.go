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
type subWaker struct {
	sleeping atomic.Bool
	ch       chan struct{}
}

// signal wakes the reader if it sleeps; called after writing.
func (w *subWaker) signal() {
	if w.sleeping.Load() && w.sleeping.CompareAndSwap(true, false) {
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
}
