package cli

import (
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/sluicelog/sluice/examples/internal/metrics"
	"github.com/sluicelog/sluice/limit"
)

// IngressBuffer holds the flags of a program's ingress buffer: -buffer
// (size), -buffer-policy (fair or ring) and -limits (a per-source limits
// file, re-read on SIGHUP).
type IngressBuffer struct {
	Size   int
	Policy string
	Limits string
	// MaxBytes bounds the buffer in wire bytes too (0: in envelopes
	// only); programs derive it from -memory-budget.
	MaxBytes int64
}

// Flags registers the flags; policy is the program's default.
func (b *IngressBuffer) Flags(fs *flag.FlagSet, policy limit.Policy) {
	fs.IntVar(&b.Size, "buffer", limit.DefaultBufferSize, "ingress buffer size (envelopes)")
	fs.StringVar(&b.Policy, "buffer-policy", string(policy), "what the ingress buffer drops when full: fair (the envelopes of the sources holding the most) or ring (whatever the reader fell behind on, Loggregator's diode)")
	fs.StringVar(&b.Limits, "limits", "", "per-source rate limits file (lines of `source-id rate/s [burst n]`, * for the default), re-read on SIGHUP (empty: no limits)")
}

// Ingress is a program's ingress buffer (a *limit.Buffer) with its SIGHUP
// reloader. Close it after the reader has drained it.
type Ingress struct {
	*limit.Buffer
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Start builds the buffer the flags describe, serves its summary at
// /debug/noisy of -metrics-addr (c may be nil) and, with -limits, re-reads
// the limits file on SIGHUP (a bad file is logged and the old limits stay).
func (b *IngressBuffer) Start(c *Common, logger *slog.Logger) (*Ingress, error) {
	policy, err := limit.ParsePolicy(b.Policy)
	if err != nil {
		return nil, err
	}
	cfg := limit.BufferConfig{Policy: policy, Size: b.Size, MaxBytes: b.MaxBytes, Summarize: true}
	if b.Limits != "" {
		limits, err := limit.ParseFile(b.Limits)
		if err != nil {
			return nil, err
		}
		cfg.Limits = &limits
	}
	buf, err := limit.NewBuffer(cfg, limit.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	in := &Ingress{Buffer: buf, stop: make(chan struct{}), done: make(chan struct{})}
	if c != nil {
		c.Handle(metrics.NoisyPath, metrics.NoisyHandler(buf))
	}
	if b.Limits == "" {
		close(in.done)
		return in, nil
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer close(in.done)
		defer signal.Stop(hup)
		for {
			select {
			case <-hup:
				_ = buf.ReloadFile(b.Limits) // logged by the Limiter
			case <-in.stop:
				return
			}
		}
	}()
	return in, nil
}

// Close stops the reloader and the limiter's clock. It is idempotent.
func (in *Ingress) Close() error {
	in.once.Do(func() { close(in.stop) })
	<-in.done
	return in.Buffer.Close()
}
