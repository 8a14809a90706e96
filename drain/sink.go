package drain

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/drain/rfc5424"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/backoff"
)

// sink is one drain: its buffer, its goroutine and its connection.
type sink struct {
	t      target
	cfg    *config
	log    *slog.Logger
	buf    *diode.ManyToOne[*envelope.Envelope]
	fmt    *rfc5424.Formatter
	w      writer
	framed bool
	limit  int           // flush at this many bytes
	every  time.Duration // HTTPS: flush this long after the first message

	hard, soft       context.Context // hard: Close; soft: Shutdown
	cancel, stopSoft context.CancelFunc
	done             chan struct{}

	setMu  sync.RWMutex // Set against close: nothing is set after the last count
	closed bool

	// Counters, written by the drain's goroutine (and set for closed).
	sent, messages, posts, failures atomic.Uint64
	dropWrite, dropFormat           atomic.Uint64
	dropClosed                      atomic.Uint64
	dials                           atomic.Uint64
	late                            atomic.Uint64 // set after the drain closed
	unreported                      atomic.Uint64 // drops not yet told to the owner
	isConnected                     atomic.Bool

	// Owned by the goroutine.
	pending     []byte
	pendingEnvs uint64
	pendingMsgs uint64
	first       time.Time
	fails       int // consecutive failed writes, for the backoff
}

func newSink(t target, cfg *config) (*sink, error) {
	host := t.hostname
	if host == "" {
		host = cfg.hostname
	}
	f, err := rfc5424.New(host)
	if err != nil {
		return nil, invalid(Binding{SourceID: t.sourceID}, "hostname: %v", err)
	}
	s := &sink{t: t, cfg: cfg, fmt: f, done: make(chan struct{}), log: cfg.log.With("drain", t.name, "source_id", t.sourceID)}
	s.buf, err = diode.NewManyToOne[*envelope.Envelope](cfg.bufSize, diode.WithAlert(func(n int) { s.unreported.Add(uint64(n)) }))
	if err != nil {
		return nil, err
	}
	if t.url.Scheme == schemeHTTPS {
		s.w, s.limit, s.every = newHTTPSPoster(t.url, t.name, cfg.tls, cfg, &s.dials), cfg.httpBytes, cfg.httpEvery
	} else {
		s.limit, s.framed = cfg.flushBytes, true
	}
	s.hard, s.cancel = context.WithCancel(context.Background())
	s.soft, s.stopSoft = context.WithCancel(s.hard)
	if s.framed {
		s.w = newSyslogConn(s.soft, t.url, cfg.tls, cfg, &s.dials)
	}
	go s.run()
	return s, nil
}

// set hands e to the drain without blocking.
func (s *sink) set(e *envelope.Envelope) {
	s.setMu.RLock()
	if s.closed {
		s.late.Add(1)
		s.dropClosed.Add(1)
		s.unreported.Add(1)
	} else {
		s.buf.Set(e)
	}
	s.setMu.RUnlock()
}

func (s *sink) run() {
	defer close(s.done)
	defer s.finish()
	for {
		e, err := s.next()
		if err != nil {
			if s.hard.Err() == nil { // Shutdown: deliver what is buffered
				for e, ok := s.buf.TryNext(); ok && s.hard.Err() == nil; e, ok = s.buf.TryNext() {
					s.add(e)
				}
				s.flush()
			}
			return
		}
		s.add(e)
		// Take what else is waiting, then write it in one go.
		for len(s.pending) < s.limit {
			e, ok := s.buf.TryNext()
			if !ok {
				break
			}
			s.add(e)
		}
		if s.every == 0 || len(s.pending) >= s.limit || !s.first.IsZero() && time.Since(s.first) >= s.every {
			s.flush()
		}
	}
}

// next waits for an envelope; an HTTPS drain with a batch open waits only
// until the batch is due, then flushes.
func (s *sink) next() (*envelope.Envelope, error) {
	for s.every > 0 && s.pendingEnvs > 0 {
		ctx, cancel := context.WithDeadline(s.soft, s.first.Add(s.every))
		e, err := s.buf.Next(ctx)
		cancel()
		if err == nil {
			return e, nil
		}
		if s.soft.Err() != nil {
			return nil, err
		}
		s.flush()
	}
	for {
		ctx := s.w.idle()
		if ctx == nil {
			ctx = s.soft
		}
		e, err := s.buf.Next(ctx)
		if err == nil || s.soft.Err() != nil {
			return e, err
		}
		// The receiver closed its side while the drain was idle: let go of
		// the connection so it can finish; the next write reconnects.
		s.w.close()
		s.isConnected.Store(false)
	}
}

func (s *sink) add(e *envelope.Envelope) {
	var n int
	var err error
	if s.framed {
		s.pending, n, err = s.fmt.AppendOctetCounted(s.pending, e)
	} else {
		s.pending, n, err = s.fmt.Append(s.pending, e)
	}
	if err != nil {
		s.dropFormat.Add(1)
		s.unreported.Add(1)
		return
	}
	if s.pendingEnvs == 0 {
		s.first = time.Now()
	}
	s.pendingEnvs++
	s.pendingMsgs += uint64(n)
}

// flush writes the pending batch, retrying on a fresh connection; after
// the last attempt the batch is dropped ("write").
func (s *sink) flush() {
	if s.pendingEnvs == 0 {
		return
	}
	for attempt := 1; ; attempt++ {
		err := s.w.write(s.hard, s.pending)
		s.isConnected.Store(s.w.connected())
		if err == nil {
			if s.fails > 0 {
				s.log.Info("drain: delivering again", "after_failures", s.fails)
			}
			s.fails = 0
			s.sent.Add(s.pendingEnvs)
			s.messages.Add(s.pendingMsgs)
			s.posts.Add(1)
			s.reset()
			return
		}
		s.failures.Add(1)
		if s.fails == 0 {
			s.log.Warn("drain: write failed", "err", err)
		}
		s.fails++
		if s.hard.Err() != nil {
			return // finish counts the batch as closed
		}
		if attempt >= s.cfg.retries {
			s.dropWrite.Add(s.pendingEnvs)
			s.unreported.Add(s.pendingEnvs)
			s.reset()
		}
		if !backoff.Sleep(s.hard, s.cfg.backoff.Delay(s.fails-1)) || s.pendingEnvs == 0 {
			return
		}
	}
}

func (s *sink) reset() {
	s.pending = s.pending[:0]
	s.pendingEnvs, s.pendingMsgs = 0, 0
	s.first = time.Time{}
}

// finish closes the connection and counts what was left as dropped
// ("closed"). No Set happens after it: closed is set under setMu.
func (s *sink) finish() {
	s.w.close()
	s.isConnected.Store(false)
	s.setMu.Lock()
	s.closed = true
	s.setMu.Unlock()
	left := s.pendingEnvs
	for _, ok := s.buf.TryNext(); ok; _, ok = s.buf.TryNext() {
		left++
	}
	s.reset()
	s.dropClosed.Add(left)
	s.unreported.Add(left)
}

// shutdown delivers what the drain holds, then stops; when ctx ends first
// it closes at once.
func (s *sink) shutdown(ctx context.Context) error {
	s.stopSoft()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.close()
		return ctx.Err()
	}
}

// close stops at once and waits for the goroutine.
func (s *sink) close() {
	s.cancel()
	<-s.done
}

// stats snapshots the drain's counters.
func (s *sink) stats() Stats {
	b := s.buf.Stats()
	return Stats{
		SourceID:  s.t.sourceID,
		URL:       s.t.name,
		Written:   b.Written + s.late.Load(),
		Sent:      s.sent.Load(),
		Messages:  s.messages.Load(),
		Writes:    s.posts.Load(),
		Failures:  s.failures.Load(),
		Dials:     s.dials.Load(),
		Connected: s.isConnected.Load(),
		Dropped: Drops{
			Buffer: b.Dropped,
			Write:  s.dropWrite.Load(),
			Format: s.dropFormat.Load(),
			Closed: s.dropClosed.Load(),
		},
	}
}
