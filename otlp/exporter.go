package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/diode"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/internal/backoff"
)

// ErrInvalidConfig is wrapped by NewExporter's error for an unusable
// option or address.
var ErrInvalidConfig = errors.New("otlp: invalid configuration")

// ErrClosed is returned by Publish after Shutdown or Close.
var ErrClosed = errors.New("otlp: exporter closed")

// Option configures an Exporter.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	log      *slog.Logger
	creds    credentials.TransportCredentials
	queue    int
	batch    int
	every    time.Duration
	attempts int
	backoff  backoff.Policy
	timeout  time.Duration
	err      error
}

// WithLogger logs failed exports; the default discards.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.log = l
		}
	})
}

// WithTransportCredentials sets the gRPC credentials (for example
// credentials.NewTLS); the default is plaintext.
func WithTransportCredentials(tc credentials.TransportCredentials) Option {
	return optionFunc(func(c *config) { c.creds = tc })
}

// WithQueueSize bounds the queue (default 10,000 envelopes); when it is
// full, new envelopes are refused and counted dropped ("queue").
func WithQueueSize(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 {
			c.err = fmt.Errorf("%w: queue size %d < 1", ErrInvalidConfig, n)
		}
		c.queue = n
	})
}

// WithBatch sets the most envelopes per export and how long the first of
// them waits (defaults 512 and 200 ms).
func WithBatch(n int, every time.Duration) Option {
	return optionFunc(func(c *config) {
		if n < 1 || every <= 0 {
			c.err = fmt.Errorf("%w: batch %d, %v", ErrInvalidConfig, n, every)
		}
		c.batch, c.every = n, every
	})
}

// WithRetry sets the attempts per export (default 5) and the backoff
// between them (default 100 ms doubling to 5 s, with jitter). Permanent
// refusals (InvalidArgument and the like) are not retried.
func WithRetry(attempts int, base, max time.Duration) Option {
	return optionFunc(func(c *config) {
		if attempts < 1 || base <= 0 || max < base {
			c.err = fmt.Errorf("%w: retry %d, %v..%v", ErrInvalidConfig, attempts, base, max)
		}
		c.attempts, c.backoff = attempts, backoff.Policy{Base: base, Max: max}
	})
}

// Exporter sends envelopes to an OTLP/gRPC receiver (an OpenTelemetry
// Collector) as logs and metrics. Publish and Emit never block: they put
// the envelope in a bounded queue that one goroutine drains in batches.
// Safe for concurrent use.
type Exporter struct {
	cfg     config
	conn    *grpc.ClientConn
	logs    plogotlp.GRPCClient
	metrics pmetricotlp.GRPCClient
	queue   *diode.Channel[*envelope.Envelope]

	pubMu  sync.RWMutex
	closed bool

	hard, soft       context.Context
	cancel, stopSoft context.CancelFunc
	done             chan struct{}

	malformed, exported, empty, exports, failures, retries atomic.Uint64
	dropExport, dropClosed, late                           atomic.Uint64
}

// NewExporter returns a running Exporter for the OTLP/gRPC receiver at
// addr (host:port). It connects lazily.
func NewExporter(addr string, opts ...Option) (*Exporter, error) {
	cfg := config{
		log: slog.New(slog.DiscardHandler), creds: insecure.NewCredentials(), queue: 10000, batch: 512,
		every: 200 * time.Millisecond, attempts: 5, backoff: backoff.Policy{Base: 100 * time.Millisecond, Max: 5 * time.Second},
		timeout: 10 * time.Second,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	if addr == "" {
		return nil, fmt.Errorf("%w: no address", ErrInvalidConfig)
	}
	q, err := diode.NewChannel[*envelope.Envelope](cfg.queue)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(cfg.creds))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	x := &Exporter{cfg: cfg, conn: conn, logs: plogotlp.NewGRPCClient(conn), metrics: pmetricotlp.NewGRPCClient(conn),
		queue: q, done: make(chan struct{})}
	x.hard, x.cancel = context.WithCancel(context.Background())
	x.soft, x.stopSoft = context.WithCancel(x.hard)
	go x.run()
	return x, nil
}

// Emit queues e without blocking; the exporter shares it, so do not change
// it afterwards. It makes Exporter a drain.Emitter and an egress-side sink.
func (x *Exporter) Emit(e *envelope.Envelope) {
	x.pubMu.RLock()
	defer x.pubMu.RUnlock()
	if x.closed {
		x.late.Add(1)
		x.dropClosed.Add(1)
		return
	}
	x.queue.Set(e)
}

// Publish decodes one envelope's wire bytes and queues it.
func (x *Exporter) Publish(b []byte) error {
	e := new(envelope.Envelope)
	if err := proto.Unmarshal(b, e); err != nil {
		x.malformed.Add(1)
		return fmt.Errorf("otlp: publish: %w", err)
	}
	x.pubMu.RLock()
	closed := x.closed
	x.pubMu.RUnlock()
	if closed {
		return ErrClosed
	}
	x.Emit(e)
	return nil
}

func (x *Exporter) run() {
	defer close(x.done)
	for {
		e, err := x.queue.Next(x.soft)
		if err != nil {
			break
		}
		b := NewBatch()
		x.add(b, e)
		deadline := time.Now().Add(x.cfg.every)
		for b.Len() < x.cfg.batch {
			if e, ok := x.queue.TryNext(); ok {
				x.add(b, e)
				continue
			}
			ctx, cancel := context.WithDeadline(x.soft, deadline)
			e, err := x.queue.Next(ctx)
			cancel()
			if err != nil {
				break
			}
			x.add(b, e)
		}
		x.send(b)
	}
	// Shutdown: export what is queued; Close: count it dropped.
	for x.hard.Err() == nil {
		b := NewBatch()
		for b.Len() < x.cfg.batch {
			e, ok := x.queue.TryNext()
			if !ok {
				break
			}
			x.add(b, e)
		}
		if b.Len() == 0 {
			break
		}
		x.send(b)
	}
	for _, ok := x.queue.TryNext(); ok; _, ok = x.queue.TryNext() {
		x.dropClosed.Add(1)
	}
}

func (x *Exporter) add(b *Batch, e *envelope.Envelope) {
	if !b.Add(e) {
		x.empty.Add(1)
	}
}

// send exports the batch's logs and metrics, each with its retries; a
// part that fails every attempt counts its envelopes dropped ("export").
func (x *Exporter) send(b *Batch) {
	if b.Len() == 0 {
		return
	}
	nLogs := b.Logs.LogRecordCount()
	logsOK, metricsOK := true, true
	if nLogs > 0 {
		logsOK = x.retry(func(ctx context.Context) error {
			_, err := x.logs.Export(ctx, plogotlp.NewExportRequestFromLogs(b.Logs))
			return err
		})
	}
	if b.Metrics.DataPointCount() > 0 {
		metricsOK = x.retry(func(ctx context.Context) error {
			_, err := x.metrics.Export(ctx, pmetricotlp.NewExportRequestFromMetrics(b.Metrics))
			return err
		})
	}
	// Envelopes per part: each log record is one envelope; the rest are
	// metric envelopes (a gauge of several metrics is one envelope).
	lost := 0
	if !logsOK {
		lost += nLogs
	}
	if !metricsOK {
		lost += b.Len() - nLogs
	}
	x.dropExport.Add(uint64(lost))
	x.exported.Add(uint64(b.Len() - lost))
}

func (x *Exporter) retry(f func(context.Context) error) bool {
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(x.hard, x.cfg.timeout)
		err := f(ctx)
		cancel()
		if err == nil {
			x.exports.Add(1)
			return true
		}
		x.failures.Add(1)
		x.cfg.log.Warn("otlp: export failed", "attempt", attempt+1, "err", err)
		if permanent(err) || attempt+1 >= x.cfg.attempts || x.hard.Err() != nil {
			return false
		}
		x.retries.Add(1)
		if !backoff.Sleep(x.hard, x.cfg.backoff.Delay(attempt)) {
			return false
		}
	}
}

func permanent(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.Unimplemented, codes.PermissionDenied, codes.Unauthenticated:
		return true
	}
	return false
}

// Stats counts envelopes. Once the Exporter has closed,
//
//	Queued == Exported + Empty + Dropped.Total()
type Stats struct {
	// Queued counts envelopes given to Emit or Publish.
	Queued uint64
	// Exported counts envelopes the receiver accepted; Empty those without
	// a message (nothing to export); Malformed refused wire bytes.
	Exported, Empty, Malformed uint64
	// Exports counts accepted export calls, Failures failed calls,
	// Retries calls made again.
	Exports, Failures, Retries uint64
	Dropped                    Drops
}

// Drops counts lost envelopes by cause.
type Drops struct {
	// Queue: refused because the queue was full.
	Queue uint64
	// Export: in an export that failed every attempt or was refused.
	Export uint64
	// Closed: still queued at Close (or Shutdown out of time), or given
	// after.
	Closed uint64
}

// Total sums the causes.
func (d Drops) Total() uint64 { return d.Queue + d.Export + d.Closed }

// Stats returns a snapshot.
func (x *Exporter) Stats() Stats {
	q := x.queue.Stats()
	return Stats{
		Queued: q.Written + x.late.Load(), Exported: x.exported.Load(), Empty: x.empty.Load(), Malformed: x.malformed.Load(),
		Exports: x.exports.Load(), Failures: x.failures.Load(), Retries: x.retries.Load(),
		Dropped: Drops{Queue: q.Dropped, Export: x.dropExport.Load(), Closed: x.dropClosed.Load()},
	}
}

// Shutdown stops taking envelopes and exports what is queued; when ctx
// ends first it closes at once and returns ctx's error.
func (x *Exporter) Shutdown(ctx context.Context) error {
	x.closeInput()
	x.stopSoft()
	select {
	case <-x.done:
		_ = x.conn.Close()
		return nil
	case <-ctx.Done():
		_ = x.Close()
		return ctx.Err()
	}
}

// Close stops at once; what is queued is counted dropped ("closed").
// Idempotent; it waits for the goroutine.
func (x *Exporter) Close() error {
	x.closeInput()
	x.cancel()
	<-x.done
	_ = x.conn.Close()
	return nil
}

func (x *Exporter) closeInput() {
	x.pubMu.Lock()
	x.closed = true
	x.pubMu.Unlock()
}
