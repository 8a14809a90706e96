package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy describes an exponential backoff with "equal jitter": the n-th delay
// (from 0) is drawn uniformly from [d/2, d] where d = min(Max, Base*Factor^n).
// The zero value uses Base 100ms, Max 10s and Factor 2.
type Policy struct {
	Base   time.Duration
	Max    time.Duration
	Factor float64
}

func (p Policy) withDefaults() Policy {
	if p.Base <= 0 {
		p.Base = 100 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 10 * time.Second
	}
	if p.Max < p.Base {
		p.Max = p.Base
	}
	if p.Factor < 1 {
		p.Factor = 2
	}
	return p
}

// Delay returns the delay before retry number attempt (0 for the first retry).
// Half of the delay is fixed and half is random, so retries from many clients
// spread out while a single client still backs off predictably.
func (p Policy) Delay(attempt int) time.Duration {
	p = p.withDefaults()
	d := float64(p.Base)
	for i := 0; i < attempt && d < float64(p.Max); i++ {
		d *= p.Factor
	}
	if d > float64(p.Max) {
		d = float64(p.Max)
	}
	half := d / 2
	return time.Duration(half + rand.Float64()*half)
}

// Jitter returns d scaled by a random factor in [1-frac, 1+frac]; it is used
// to spread periodic work such as stream recycling.
func Jitter(d time.Duration, frac float64) time.Duration {
	if d <= 0 || frac <= 0 {
		return d
	}
	if frac > 1 {
		frac = 1
	}
	f := 1 - frac + rand.Float64()*2*frac
	return time.Duration(float64(d) * f)
}

// Sleep waits for d or until ctx ends, and reports whether it waited the
// whole d (false: ctx ended first). A d of zero or less returns at once.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
