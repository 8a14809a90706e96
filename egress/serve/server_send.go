package serve

import (
	"context"

	"google.golang.org/grpc"

	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/wire"
)

// streamSender sends what a stream's batching flushes: it applies the
// subscriber's use_preferred_tags, splits a batch that is too large into
// several messages (BatchedReceiver) or sends one message per envelope
// (Receiver), and counts what was sent and what was dropped. Its flush runs
// on one goroutine, the stream's batching.
//
// On BatchedReceiver, each envelope is written once, with its tags
// rewritten, straight into the message grpc sends (a wire.Message in a
// pooled buffer that grpc takes over), not into a buffer of its own that
// the codec would copy again.
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

	err  error        // the first send error; nothing is sent after it
	msg  wire.Message // BatchedReceiver, tags rewritten: written in place
	out  wire.Batch   // BatchedReceiver, tags unchanged
	one  wire.Envelope
	tags tagRewriter
}

func (w *streamSender) flush(envs [][]byte) {
	s := w.s
	sent := 0
	if w.err == nil {
		switch {
		case !w.batched:
			sent = w.sendEach(envs)
		case w.converge:
			sent = w.sendBatches(envs)
		default:
			sent = w.sendUnchanged(envs)
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

// sendBatches sends envs, their tags rewritten, as one EnvelopeBatch
// message, or several when they take more than WithMaxBatchBytes (each as
// many as fit, at least one), and returns how many were sent. Each
// envelope is written once, straight into the message.
func (w *streamSender) sendBatches(envs [][]byte) (sent int) {
	limit := w.s.cfg.maxBatchBytes
	for rest := envs; len(rest) > 0 && w.err == nil; {
		w.msg.Reset(batchSizeHint(rest, limit))
		n := 0
		for ; n < len(rest); n++ {
			mark := len(w.msg.B)
			f := w.msg.BeginEnvelope(len(rest[n]))
			w.msg.B = w.tags.appendConverged(w.msg.B, rest[n], w.preferred)
			w.msg.EndEnvelope(f)
			if len(w.msg.B) > limit && n > 0 {
				w.msg.B = w.msg.B[:mark] // it opens the next message
				break
			}
		}
		if w.send(&w.msg) {
			sent += n
		}
		w.msg.Release() // held still when SendMsg failed before marshaling
		rest = rest[n:]
	}
	return sent
}

// sendUnchanged is sendBatches for WithTagsUnchanged: the codec frames
// the envelopes as they are (one copy, its own tight loop).
func (w *streamSender) sendUnchanged(envs [][]byte) (sent int) {
	for rest := envs; len(rest) > 0 && w.err == nil; {
		n := leadingFit(rest, w.s.cfg.maxBatchBytes)
		w.out.Envelopes = rest[:n]
		if w.send(&w.out) {
			sent += n
		}
		rest = rest[n:]
	}
	w.out.Envelopes = nil
	return sent
}

// sendEach sends envs one Envelope message each (Receiver) and returns how
// many were sent. Envelopes are rewritten into the tagRewriter's buffer
// and copied by the codec into one exactly sized buffer each (grpc pools
// none of this small).
func (w *streamSender) sendEach(envs [][]byte) (sent int) {
	w.tags.reset()
	for _, e := range envs {
		w.one.Raw = e
		if w.converge {
			w.one.Raw = w.tags.converge(e, w.preferred)
		}
		if !w.send(&w.one) {
			break
		}
		sent++
	}
	w.one.Raw = nil
	return sent
}

// send sends m under the send watch and reports whether it was sent (else
// w.err is set).
func (w *streamSender) send(m any) bool {
	w.watch.arm()
	w.err = w.stream.SendMsg(m)
	w.watch.disarm()
	return w.err == nil
}

// batchSizeHint is the size of buffer to write the next batch message of
// envs into: the envelopes that fit in limit as they are, and the one after
// (written before the message is found full, then cut off), with an eighth
// more for tags that grow as they move. A rewrite that grows more costs a
// larger buffer (append's). Hints over Pool's largest tier (1 MiB: a
// message split at the default limit) get a buffer of their own.
func batchSizeHint(envs [][]byte, limit int) int {
	n := leadingFit(envs, limit)
	if n < len(envs) {
		n++
	}
	size := envelope.BatchSize(envs[:n])
	return size + size/8 + 64
}
