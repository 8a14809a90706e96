package ingress

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/backoff"
	"github.com/sluicelog/sluice/internal/batch"
	"github.com/sluicelog/sluice/internal/tlswatch"
	"github.com/sluicelog/sluice/internal/wire"
	"github.com/sluicelog/sluice/stats"
)

// ErrClientClosed is returned by Shutdown when the Client was already
// stopped by Close. Emit after Shutdown or Close counts the envelope
// dropped (CauseClosed).
var ErrClientClosed = errors.New("ingress: client closed")

// Causes of the drops a Client counts (ClientStats.Dropped).
const (
	// CauseOverflow: overwritten in the diode because emitters outran
	// sending.
	CauseOverflow = stats.CauseOverflow
	// CauseSend: its batch failed to send on two streams (or two Send
	// calls).
	CauseSend = "send"
	// CauseClosed: emitted after Shutdown or Close, or still held when
	// Close stopped the Client.
	CauseClosed = stats.CauseClosed
	// CauseMarshal: Emit could not marshal it.
	CauseMarshal = "marshal"
	// CauseMalformed: EmitBytes was given bytes that are not an envelope.
	CauseMalformed = stats.CauseMalformed
	// CauseShutdown: still unsent when Shutdown's ctx ended.
	CauseShutdown = stats.CauseShutdown
)

// Client sends envelopes to a loggregator.v2.Ingress server (a sluice
// Server, or a Loggregator agent or router). Emit and EmitBytes never
// block: envelopes go into a diode that one goroutine batches and sends.
// All methods are safe for concurrent use.
type Client struct {
	cfg    clientConfig
	cc     *grpc.ClientConn
	buf    *diode.ManyToOne[[]byte]
	policy backoff.Policy

	closed   atomic.Bool
	abrupt   atomic.Bool  // Close (not Shutdown) stopped the Client
	emitting atomic.Int64 // Emit calls between their closed check and Set
	stopOnce sync.Once
	stopped  chan struct{} // closed once the Client's goroutines have ended

	emitted, sent, confirmed, unconfirmed atomic.Uint64
	streams, reconnects                   atomic.Uint64
	retried                               atomic.Uint64
	dSend, dClosed, dMarshal, dMalformed  atomic.Uint64
	dShutdown                             atomic.Uint64

	stopRun   context.CancelFunc // ends batch.Run, which then drains and flushes
	sendCtx   context.Context    // every stream and call; cancelled to give up
	abort     context.CancelFunc
	done      chan struct{} // the run goroutine ended
	finishing sync.WaitGroup

	tlsWatch *tlswatch.Watch // handshakes with the server

	// Owned by the run goroutine.
	st        *stream
	reconnect bool // the last stream broke or could not be opened
}

// stream is one BatchSender stream and what was written on it.
type stream struct {
	cs      grpc.ClientStream
	cancel  context.CancelFunc
	batches int
	envs    uint64
	opened  time.Time
}

// confirmAge is how long a Client writes on one stream at most before it
// closes it to have its batches confirmed, so that a slow emitter's
// envelopes do not stay unconfirmed for long.
const confirmAge = 10 * time.Second

// NewClient returns a Client sending to addr (host:port). It connects
// lazily and keeps reconnecting: a server that is down is not an error
// here, its envelopes are counted instead. An empty addr or a bad option
// gives an error wrapping ErrInvalidConfig.
func NewClient(addr string, opts ...ClientOption) (*Client, error) {
	if addr == "" {
		return nil, fmt.Errorf("%w: empty address", ErrInvalidConfig)
	}
	cfg := defaultClientConfig()
	for _, o := range opts {
		if o != nil {
			o.applyClient(&cfg)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	creds := insecure.NewCredentials()
	if cfg.tls != nil {
		creds = credentials.NewTLS(cfg.tls)
	}
	watch := tlswatch.NewClient("ingress", "server", cfg.logger)
	cc, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(watch.ClientCredentials(creds, addr)),
		wire.DialOption(),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: grpcbackoff.Config{
			BaseDelay: cfg.backoffBase, Multiplier: 2, Jitter: 0.2, MaxDelay: cfg.backoffMax,
		},
			// Without it grpc bounds a connection attempt (TLS handshake
			// included) by the backoff delay alone, which can be a
			// millisecond: handshakes then fail on a loaded machine.
			MinConnectTimeout: connectTimeout,
		}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: cfg.kaTime, Timeout: cfg.kaTimeout, PermitWithoutStream: true}),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	buf, err := diode.NewManyToOne[[]byte](cfg.bufferSize)
	if err != nil {
		cc.Close()
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	c := &Client{
		cfg:      cfg,
		cc:       cc,
		tlsWatch: watch,
		buf:      buf,
		policy:   backoff.Policy{Base: cfg.backoffBase, Max: cfg.backoffMax, Factor: 2},
		done:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	c.sendCtx, c.abort = context.WithCancel(context.Background())
	runCtx, stopRun := context.WithCancel(context.Background())
	c.stopRun = stopRun
	go c.run(runCtx)
	return c, nil
}

// Emit marshals e and queues it. It never blocks; an envelope that cannot
// be marshaled, or is emitted after Shutdown or Close, is counted dropped. e may be
// reused as soon as Emit returns.
func (c *Client) Emit(e *envelope.Envelope) {
	c.emitted.Add(1)
	if c.closed.Load() {
		c.dClosed.Add(1)
		return
	}
	b, err := proto.Marshal(e)
	if err != nil {
		c.dMarshal.Add(1)
		return
	}
	c.set(b)
}

// EmitBytes queues the wire bytes of one envelope. It checks them cheaply
// (envelope.ReadRoute) so that one bad envelope cannot make the server
// refuse a whole batch: malformed bytes are counted dropped. The Client
// keeps b: do not modify it afterwards. It never blocks.
func (c *Client) EmitBytes(b []byte) {
	c.emitted.Add(1)
	if _, err := envelope.ReadRoute(b); err != nil {
		c.dMalformed.Add(1)
		return
	}
	c.set(b)
}

func (c *Client) set(b []byte) {
	// Close sets closed and then waits for emitting to be 0, so every Set
	// that passes the check lands before Close drains the buffer.
	c.emitting.Add(1)
	if c.closed.Load() {
		c.emitting.Add(-1)
		c.dClosed.Add(1)
		return
	}
	c.buf.Set(b)
	c.emitting.Add(-1)
}

func (c *Client) run(ctx context.Context) {
	defer close(c.done)
	batch.Run(ctx, c.buf, batch.Config{Size: c.cfg.batchSize, Interval: c.cfg.interval}, c.flush)
	if c.st != nil {
		c.finish(c.st)
		c.st = nil
	}
}

// flush sends one batch: on a stream (retried once on a fresh stream) or
// with Send in acknowledged mode.
func (c *Client) flush(envs [][]byte) {
	n := uint64(len(envs))
	b := wire.Batch{Envelopes: envs}
	for attempt := 0; attempt < 2; attempt++ {
		if attempt == 1 {
			c.retried.Add(n)
		}
		if c.cfg.acknowledged {
			if c.sendAcknowledged(&b, attempt) {
				c.sent.Add(n)
				c.confirmed.Add(n)
				return
			}
			continue
		}
		st := c.stream()
		if st == nil {
			break // giving up: Close, or Shutdown's ctx ended
		}
		err := st.cs.SendMsg(&b)
		if err == nil {
			c.sent.Add(n)
			st.envs += n
			st.batches++
			if st.batches >= c.cfg.confirmEvery || time.Since(st.opened) >= confirmAge {
				c.finish(st)
				c.st = nil
			}
			return
		}
		c.cfg.logger.Warn("ingress: stream broke", "err", err)
		c.finish(st)
		c.st = nil
		c.reconnect = true
	}
	switch {
	case c.sendCtx.Err() != nil && c.abrupt.Load():
		c.dClosed.Add(n)
	case c.sendCtx.Err() != nil:
		c.dShutdown.Add(n)
	default:
		c.dSend.Add(n)
	}
}

func (c *Client) sendAcknowledged(b *wire.Batch, attempt int) bool {
	if attempt > 0 && !c.sleep(c.policy.Delay(0)) {
		return false
	}
	ctx, cancel := context.WithTimeout(c.sendCtx, c.cfg.sendTimeout)
	defer cancel()
	err := wire.Send(ctx, c.cc, b, grpc.WaitForReady(true))
	if err != nil {
		c.cfg.logger.Warn("ingress: send failed", "attempt", attempt, "err", err)
		return false
	}
	return true
}

// stream returns the open stream or opens one, backing off between
// attempts until one opens or the Client gives up (nil).
func (c *Client) stream() *stream {
	if c.st != nil {
		return c.st
	}
	for attempt := 0; ; attempt++ {
		if c.sendCtx.Err() != nil {
			return nil
		}
		ctx, cancel := context.WithCancel(c.sendCtx)
		cs, err := wire.OpenBatchSender(ctx, c.cc)
		if err == nil {
			c.streams.Add(1)
			if c.reconnect {
				c.reconnects.Add(1)
				c.reconnect = false
			}
			c.st = &stream{cs: cs, cancel: cancel, opened: time.Now()}
			return c.st
		}
		cancel()
		c.reconnect = true
		d := c.policy.Delay(attempt)
		c.cfg.logger.Warn("ingress: cannot open stream", "err", err, "retry_in", d)
		if !c.sleep(d) {
			return nil
		}
	}
}

// connectTimeout bounds one connection attempt, handshake included; it is
// grpc's own default.
const connectTimeout = 20 * time.Second

func (c *Client) sleep(d time.Duration) bool { return backoff.Sleep(c.sendCtx, d) }

// finish closes a stream in the background and waits for the server's
// answer, which confirms every batch written on it; a stream that broke
// (or is not answered before the Client gives up) leaves them unconfirmed.
func (c *Client) finish(st *stream) {
	c.finishing.Add(1)
	go func() {
		defer c.finishing.Done()
		defer st.cancel()
		// The answer confirms the stream: OK, or Loggregator's Unknown "EOF".
		err := st.cs.CloseSend()
		if err == nil {
			err = st.cs.RecvMsg(&envelope.BatchSenderResponse{})
		}
		if !wire.Confirmed(err) {
			c.unconfirmed.Add(st.envs)
			if st.envs > 0 {
				c.cfg.logger.Warn("ingress: stream ended without confirmation", "envelopes", st.envs, "err", err)
			}
			return
		}
		c.confirmed.Add(st.envs)
	}()
}

// Shutdown stops accepting envelopes and flushes what the Client holds:
// it drains the diode, sends the rest, closes the stream and waits for the
// server's answer. When ctx ends first it gives up: what is still unsent is
// counted dropped (CauseShutdown), what is sent but unanswered counted
// unconfirmed, and ctx's error is returned. Either way the Client's
// goroutines have ended when it returns. Calling Shutdown again waits for
// the first call to finish and returns nil; after Close it returns
// ErrClientClosed.
func (c *Client) Shutdown(ctx context.Context) error {
	if !c.beginStop() {
		select {
		case <-c.stopped:
		case <-ctx.Done():
			return ctx.Err()
		}
		if c.abrupt.Load() {
			return ErrClientClosed
		}
		return nil
	}
	stop := context.AfterFunc(ctx, c.abort)
	defer stop()
	c.stop()
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.abrupt.Load() {
		return ErrClientClosed // Close cut this Shutdown short
	}
	return nil
}

// Close stops the Client at once: it refuses new envelopes, cuts the open
// stream (what was written on it is counted unconfirmed) and counts what it
// still held dropped (CauseClosed). It returns once the Client's goroutines
// have ended. Close is idempotent: later calls wait for the stop to
// finish and return nil. During a Shutdown it cuts the Shutdown short.
func (c *Client) Close() error {
	first := c.beginStop()
	c.abrupt.Store(true)
	c.abort()
	if first {
		c.stop()
	}
	<-c.stopped
	return nil
}

// beginStop marks the Client closed and waits until every Emit that saw it
// open has written to the buffer. It reports whether this call is the
// first.
func (c *Client) beginStop() bool {
	if !c.closed.CompareAndSwap(false, true) {
		return false
	}
	for c.emitting.Load() != 0 {
		runtime.Gosched()
	}
	return true
}

// stop ends the run goroutine (which drains the buffer and flushes) and
// the stream finishers, then releases the connection.
func (c *Client) stop() {
	c.stopOnce.Do(func() {
		defer close(c.stopped)
		c.stopRun()
		<-c.done
		c.finishing.Wait()
		c.abort()
		c.cc.Close()
	})
}

// ClientStats is a snapshot of a Client's counters. Once Shutdown or Close
// has returned: Emitted == Sent + Dropped.Total(), and Sent == Confirmed +
// Unconfirmed. Before that the difference is what the Client holds.
type ClientStats struct {
	// Emitted counts calls to Emit and EmitBytes.
	Emitted uint64
	// Sent counts envelopes written to a stream without error (streaming
	// mode) or acknowledged by Send (acknowledged mode).
	Sent uint64
	// Confirmed counts sent envelopes the server has confirmed: their
	// stream was closed and answered OK, or their Send call returned OK.
	Confirmed uint64
	// Unconfirmed counts sent envelopes on a stream that broke or was not
	// answered: the server may or may not have them.
	Unconfirmed uint64
	// Dropped counts envelopes the Client gave up, by cause (CauseOverflow,
	// CauseSend, CauseClosed, CauseMarshal, CauseMalformed,
	// CauseShutdown): `dropped{direction=ingress}` on the emitting side.
	Dropped stats.Drops
	// Retried counts envelopes whose batch was tried a second time after
	// the first try failed. In acknowledged mode a Send that failed may
	// still have reached the server (its answer was lost), so up to this
	// many envelopes may arrive twice; the counts never understate loss.
	Retried uint64
	// Streams counts BatchSender streams opened; Reconnects those opened
	// after a stream broke or could not be opened.
	Streams    uint64
	Reconnects uint64
	// TLSFailures counts failed TLS handshakes with the server by cause
	// (`tls_handshake_failures{cause}`, as for egress/forward's pool:
	// plaintext_to_tls is a server that speaks TLS dialed in plaintext);
	// each episode is also logged at warn. Nil when none failed.
	TLSFailures map[string]uint64
}

// Stats returns a snapshot of the Client's counters.
func (c *Client) Stats() ClientStats {
	return ClientStats{
		Emitted:     c.emitted.Load(),
		Sent:        c.sent.Load(),
		Confirmed:   c.confirmed.Load(),
		Unconfirmed: c.unconfirmed.Load(),
		Dropped:     c.drops(),
		Streams:     c.streams.Load(),
		Reconnects:  c.reconnects.Load(),
		Retried:     c.retried.Load(),
		TLSFailures: c.tlsWatch.Failures(),
	}
}

func (c *Client) drops() stats.Drops {
	var d stats.Drops
	d.Add(CauseOverflow, c.buf.Stats().Dropped)
	d.Add(CauseSend, c.dSend.Load())
	d.Add(CauseClosed, c.dClosed.Load())
	d.Add(CauseMarshal, c.dMarshal.Load())
	d.Add(CauseMalformed, c.dMalformed.Load())
	d.Add(CauseShutdown, c.dShutdown.Load())
	return d
}
