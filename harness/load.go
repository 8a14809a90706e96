package harness

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
)

// Mix is the share of each kind of envelope a load generator sends, as
// weights (they need not add up to 100).
type Mix struct {
	Log, Counter, Gauge, Timer, Event int
}

// DefaultMix is mostly logs, as platform traffic is.
var DefaultMix = Mix{Log: 60, Counter: 20, Gauge: 10, Timer: 5, Event: 5}

// ParseMix reads "log=60,counter=20,gauge=10,timer=5,event=5"; kinds left
// out get weight 0.
func ParseMix(s string) (Mix, error) {
	var m Mix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return m, fmt.Errorf("harness: mix %q: want kind=weight", part)
		}
		w, err := strconv.Atoi(v)
		if err != nil || w < 0 {
			return m, fmt.Errorf("harness: mix %q: weight must be a whole number >= 0", part)
		}
		switch strings.TrimSpace(k) {
		case "log":
			m.Log = w
		case "counter":
			m.Counter = w
		case "gauge":
			m.Gauge = w
		case "timer":
			m.Timer = w
		case "event":
			m.Event = w
		default:
			return m, fmt.Errorf("harness: mix: unknown kind %q", k)
		}
	}
	if m.Log+m.Counter+m.Gauge+m.Timer+m.Event == 0 {
		return m, fmt.Errorf("harness: mix %q has no weight", s)
	}
	return m, nil
}

// String formats the mix as ParseMix reads it.
func (m Mix) String() string {
	return fmt.Sprintf("log=%d,counter=%d,gauge=%d,timer=%d,event=%d", m.Log, m.Counter, m.Gauge, m.Timer, m.Event)
}

// Envelopes returns a cycle of 100 marshaled envelopes in the proportions
// of the mix, from ten source IDs, each payload payloadSize bytes.
func (m Mix) Envelopes(payloadSize int) ([][]byte, error) {
	total := m.Log + m.Counter + m.Gauge + m.Timer + m.Event
	if total == 0 {
		m, total = DefaultMix, 100
	}
	payload := []byte(strings.Repeat("x", payloadSize))
	now := time.Now()
	out := make([][]byte, 0, 100)
	kinds := []struct {
		w    int
		make func(src string, i int) *envelope.Envelope
	}{
		{m.Log, func(src string, i int) *envelope.Envelope { return envelope.NewLog(src, payload) }},
		{m.Counter, func(src string, i int) *envelope.Envelope {
			return envelope.NewCounter(src, "requests_"+strconv.Itoa(i%4), 1)
		}},
		{m.Gauge, func(src string, i int) *envelope.Envelope {
			return envelope.NewGauge(src, []envelope.Metric{{Name: "cpu", Value: float64(i), Unit: "percentage"}, {Name: "memory", Value: 1 << 20, Unit: "bytes"}})
		}},
		{m.Timer, func(src string, i int) *envelope.Envelope {
			return envelope.NewTimer(src, "http", now, now.Add(time.Duration(i)*time.Millisecond))
		}},
		{m.Event, func(src string, i int) *envelope.Envelope {
			return envelope.NewEvent(src, "deploy", "v"+strconv.Itoa(i))
		}},
	}
	for _, k := range kinds {
		n := k.w * 100 / total
		for i := 0; i < n; i++ {
			src := "app-" + strconv.Itoa(len(out)%10)
			b, err := proto.Marshal(k.make(src, i))
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
	}
	for len(out) < 100 { // rounding: top up with the first kind that has weight
		out = append(out, out[0])
	}
	return out, nil
}

// Pace calls emit rate times a second, spread evenly, until ctx ends or
// duration passes, and returns how many calls it made. emit must not block.
func Pace(ctx context.Context, rate int, duration time.Duration, emit func(i int)) int {
	if rate <= 0 {
		return 0
	}
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	n := 0
	for {
		elapsed := time.Since(start)
		if duration > 0 && elapsed >= duration {
			elapsed = duration
		}
		due := int(float64(rate) * elapsed.Seconds())
		for ; n < due; n++ {
			emit(n)
		}
		if duration > 0 && elapsed >= duration {
			return n
		}
		select {
		case <-ctx.Done():
			return n
		case <-tick.C:
		}
	}
}
