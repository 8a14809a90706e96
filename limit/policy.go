package limit

import (
	"errors"
	"fmt"

	"github.com/sluicelog/sluice/diode"
)

// Policy names what an ingress buffer does when its reader falls behind.
type Policy string

const (
	// PolicyRing is a diode.ManyToOne: when the writers lap the reader, it
	// skips everything it missed, whoever sent it (Loggregator's diode). It
	// is the cheapest per envelope, and a flooding source costs every
	// source its envelopes.
	PolicyRing Policy = "ring"
	// PolicyFair is a diode.Fair keyed by source ID (NewFair): when it is
	// full, the source holding the most loses its oldest envelope, and the
	// reader serves the sources in turn.
	PolicyFair Policy = "fair"
)

// ParsePolicy returns the Policy named s ("ring" or "fair"); an empty s is
// PolicyRing. Other names wrap ErrInvalidConfig.
func ParsePolicy(s string) (Policy, error) {
	switch Policy(s) {
	case "", PolicyRing:
		return PolicyRing, nil
	case PolicyFair:
		return PolicyFair, nil
	}
	return "", fmt.Errorf("%w: buffer policy %q is neither ring nor fair", ErrInvalidConfig, s)
}

// ErrNoLimits is returned by Buffer.ReloadFile when the buffer was built
// without limits.
var ErrNoLimits = errors.New("limit: the buffer has no per-source limits to reload")

// DefaultBufferSize is the size of a Buffer when BufferConfig.Size is 0:
// Loggregator's ingress diodes hold 10,000 envelopes.
const DefaultBufferSize = 10_000

// BufferConfig says how NewBuffer builds an ingress buffer. The zero value
// is Loggregator's: a ring of 10,000 envelopes, no limits, no summary.
type BufferConfig struct {
	// Policy is the buffer policy (default PolicyRing).
	Policy Policy
	// Size is how many envelopes the buffer holds (default 10,000).
	Size int
	// MaxBytes, when above 0, bounds the envelopes held in wire bytes too
	// (diode.WithMaxBytes): an envelope that would take the buffer over is
	// shed as when it is full. 0: bounded in envelopes only.
	MaxBytes int64
	// Limits, when not nil, puts a Limiter with these limits in front of
	// the buffer.
	Limits *Config
	// Summarize keeps a heavy-hitter summary with the ring too (the fair
	// policy and a Limiter always keep one). A ring does not know whose
	// envelopes it skips, so the summary then ranks sources by envelopes
	// sent (and rate limited), not by overflow.
	Summarize bool
	// TopK is the number of sources the summary keeps (default
	// DefaultTopK).
	TopK int
}

// Buffer is an ingress buffer of marshaled Envelopes built from a
// BufferConfig: the policy's buffer, a Limiter in front when there are
// limits, and the Summary both report into. It is itself a
// diode.Buffer, so an ingress server writes into it and a forwarder or
// router reads it; Stats are those of the outermost part (a Limiter's
// count its rate-limited envelopes as dropped), so Written == Read +
// Dropped after a drain.
type Buffer struct {
	diode.Buffer[[]byte]
	policy   Policy
	maxBytes int64
	lim      *Limiter
	sum      *Summary
	inner    diode.Buffer[[]byte]
	keyed    diode.Keyed[[]byte] // Buffer, when it takes source IDs (all but a plain ring)
}

// NewBuffer builds the buffer cfg describes; opts configure its Limiter
// (WithLogger, WithMaxSources, ...; WithSummary is set by NewBuffer). An
// invalid cfg wraps ErrInvalidConfig. Close the Buffer when done with it.
func NewBuffer(cfg BufferConfig, opts ...Option) (*Buffer, error) {
	p, err := ParsePolicy(string(cfg.Policy))
	if err != nil {
		return nil, err
	}
	size := cfg.Size
	if size == 0 {
		size = DefaultBufferSize
	}
	if size < 0 || cfg.MaxBytes < 0 {
		return nil, fmt.Errorf("%w: buffer size %d, %d bytes", ErrInvalidConfig, size, cfg.MaxBytes)
	}
	var bytesOpt diode.Option
	if cfg.MaxBytes > 0 {
		bytesOpt = diode.WithMaxBytes(cfg.MaxBytes, diode.Len)
	}
	b := &Buffer{policy: p, maxBytes: cfg.MaxBytes}
	if p == PolicyFair || cfg.Limits != nil || cfg.Summarize {
		b.sum = NewSummary(cfg.TopK)
	}
	switch p {
	case PolicyFair:
		// Behind a Limiter, the Limiter counts what is sent; the fair
		// buffer tells only whose envelopes it dropped.
		var tally diode.Tally = b.sum
		if cfg.Limits != nil {
			tally = b.sum.Drops()
		}
		b.inner, err = NewFair(size, diode.WithTally(tally), bytesOpt)
	default:
		b.inner, err = diode.NewManyToOne[[]byte](size, bytesOpt)
		if err == nil && b.sum != nil && cfg.Limits == nil {
			b.inner = &counted{Buffer: b.inner, sum: b.sum}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	b.Buffer = b.inner
	if cfg.Limits != nil {
		opts = append(opts, WithSummary(b.sum))
		if b.lim, err = New(b.inner, *cfg.Limits, opts...); err != nil {
			return nil, err
		}
		b.Buffer = b.lim
	}
	b.keyed, _ = b.Buffer.(diode.Keyed[[]byte])
	return b, nil
}

var _ diode.Buffer[[]byte] = (*Buffer)(nil)

// Policy returns the buffer's policy.
func (b *Buffer) Policy() Policy { return b.policy }

// Limiter returns the Limiter in front of the buffer, or nil without
// limits.
func (b *Buffer) Limiter() *Limiter { return b.lim }

// Summary returns the heavy-hitter summary, or nil for a ring without
// limits or Summarize.
func (b *Buffer) Summary() *Summary { return b.sum }

// Inner returns the policy's buffer, behind the Limiter if there is one:
// its Stats count overflow only.
func (b *Buffer) Inner() diode.Buffer[[]byte] { return b.inner }

// ReloadFile re-reads the limits file at path and applies it (a program
// calls it on SIGHUP); ErrNoLimits without a Limiter. On any error the
// old limits stay.
func (b *Buffer) ReloadFile(path string) error {
	if b.lim == nil {
		return ErrNoLimits
	}
	return b.lim.ReloadFile(path)
}

// Close stops the Limiter's clock goroutine, if any. It is idempotent and
// leaves the buffer usable.
func (b *Buffer) Close() error {
	if b.lim != nil {
		return b.lim.Close()
	}
	return nil
}

// counted counts every envelope written to a ring, per source, in a
// Summary.
type counted struct {
	diode.Buffer[[]byte]
	sum *Summary
}

func (c *counted) Set(e []byte) { c.SetKeyed(e, SourceID(e)) }
