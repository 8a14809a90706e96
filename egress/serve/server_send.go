package serve

import (
	"context"

	"google.golang.org/grpc"

	"github.com/sluicelog/sluice/internal/wire"
)

// streamSender sends what a stream's batching flushes: it applies the
// subscriber's use_preferred_tags, splits a batch that is too large into
// several messages (BatchedReceiver) or sends one message per envelope
// (Receiver), and counts what was sent and what was dropped. Its flush runs
// on one goroutine, the stream's batching.
type streamSender struct {
	s         *Server
	stream    grpc.ServerStream
	sub       Subscription       // closed when a send fails
	stop      context.CancelFunc // ends the stream's batching
	watch     *sendWatch
	shard     string
	batched   bool
	converge  bool // apply use_preferred_tags (not WithTagsUnchanged)
	preferred bool // the request's use_preferred_tags

	err  error // the first send error; nothing is sent after it
	out  wire.Batch
	one  wire.Envelope
	tags tagRewriter // reused per batch: the codec copies what it sends
}

func (w *streamSender) flush(envs [][]byte) {
	s := w.s
	sent := 0
	if w.err == nil {
		if w.converge {
			w.tags.reset()
			for i, e := range envs {
				envs[i] = w.tags.converge(e, w.preferred)
			}
		}
		if w.batched {
			// One message, or several when the envelopes are large.
			for rest := envs; len(rest) > 0 && w.err == nil; {
				n := leadingFit(rest, s.cfg.maxBatchBytes)
				w.out.Envelopes = rest[:n]
				w.watch.arm()
				w.err = w.stream.SendMsg(&w.out)
				w.watch.disarm()
				if w.err == nil {
					sent += n
				}
				rest = rest[n:]
			}
			w.out.Envelopes = nil
		} else {
			for _, e := range envs {
				w.one.Raw = e
				w.watch.arm()
				w.err = w.stream.SendMsg(&w.one)
				w.watch.disarm()
				if w.err != nil {
					break
				}
				sent++
			}
			w.one.Raw = nil
		}
		if w.err != nil {
			// Leave the group now: nothing more is read, and what the
			// subscription holds is counted by its Subscriber.
			_ = w.sub.Close()
			w.stop()
		}
	}
	s.mu.Lock()
	s.egress += uint64(sent)
	if n := len(envs) - sent; n > 0 {
		if w.watch.fired() {
			s.timedOut[w.shard] += uint64(n)
		} else {
			s.dropped[w.shard] += uint64(n)
		}
	}
	s.mu.Unlock()
}
