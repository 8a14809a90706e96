// Package diode provides bounded buffers whose writers never block: when the
// reader falls behind, data is dropped and every drop is counted.
//
// All buffers satisfy [Buffer]: Set never blocks and never fails, TryNext
// reads without blocking, Next sleeps until there is something to read (an
// idle reader uses no CPU) or its context is done, and Stats returns the
// counters. They are generic, so they carry envelopes, batches or raw wire
// bytes without boxing, and Set, TryNext and Next allocate nothing.
//
// # Choosing a policy
//
//   - [OneToOne]: one writer goroutine, one reader goroutine. A ring buffer:
//     when the writer laps the reader, the reader skips everything it missed
//     and reports how many, the behaviour of go-diodes and of Loggregator's
//     agents and routers ("Dropped 1000 envelopes"). Under a fast writer it
//     drops whole rings at once and keeps the newest data.
//   - [ManyToOne]: the same for many writer goroutines. Writers that meet in
//     one slot are counted in Stats.Collisions; nothing is logged.
//   - [Channel]: a bounded first-in first-out queue. A write into a full
//     buffer is refused and counted: the newest element is the one lost, as
//     in Loggregator's reverse log proxy. Keeps the oldest data.
//   - [Discard]: takes everything and keeps nothing, for benchmarks and for
//     wiring a component whose output is not wanted.
//   - [Fair]: sheds load fairly between the sources its key function names;
//     see its documentation.
//
// A buffer whose elements belong to keys may also be [Keyed]: a writer
// that has read each element's key already (an ingress server reads every
// envelope's source ID while validating it) hands it over with the
// element, singly (SetKeyed) or a batch at a time (SetBatch, which takes
// the buffer's lock once per batch), and the buffer does not read it
// again. Fair is Keyed.
//
// Loggregator's sizes are sensible starting points: 10,000 for agent and
// router ingress diodes, 1,000 per subscription for router egress, 10,000 for
// a proxy's channel.
//
// # Bounding in bytes
//
// A count of elements does not bound memory when elements differ in size:
// a ring of 1,000 envelopes may hold a few hundred kilobytes or gigabytes.
// [WithMaxBytes] bounds any buffer in bytes as well, given a size function
// ([Len] for wire bytes): a write that would take the buffer over is shed
// as when the buffer is full and counted the same way, the writer still
// never blocks, and Stats.Bytes tells what is held. Rings and Channel
// refuse the new element; Fair drops the oldest of its heaviest sources.
//
// Many buffers may also share one bound ([BytePool], [WithBytePool]): what
// all of them hold together stays under the pool, while one of them may
// hold far more than an even share to ride out a stall of its reader. A
// buffer thrown away must give its bytes back (OneToOne.Release).
//
// # Accounting
//
// Stats counts Written (calls to Set), Read and Dropped. Once the writers
// have stopped and the reader has drained the buffer,
//
//	Written == Read + Dropped
//
// exactly, for every kind. The alert callback given with [WithAlert] gets
// the same drops as they are found: it runs on the reader's goroutine,
// inside TryNext or Next, with the number dropped since its last call, so
// the sum of its arguments equals Dropped after the drain. A ring buffer
// finds its drops when the reader reaches the place where the writer lapped
// it; a Channel reports the writes it refused on the next read.
//
// # Concurrency
//
// Each ring slot is guarded by one atomic word that a writer or the reader
// claims for the few nanoseconds of copying one element; values are never
// read or written without that claim, so the buffers are clean under the
// race detector for any element type. The file ring.go explains the
// protocol step by step.
package diode
