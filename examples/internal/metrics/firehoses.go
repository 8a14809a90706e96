package metrics

import (
	"context"
	"sync"

	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/nozzle"
	"github.com/sluicelog/sluice/stats"
	"github.com/sluicelog/sluice/telemetry"
)

// Firehoses records the Firehose a proxy starts for each subscriber, so
// that their counters can be reported after they close. The zero value is
// ready to use.
type Firehoses struct {
	mu   sync.Mutex
	list []stats.Reporter
}

// Record wraps a subscribe function such as nozzle.FirehoseSubscriber's and
// keeps every Firehose it starts.
func (f *Firehoses) Record(subscribe func(context.Context, *envelope.EgressBatchRequest) (nozzle.Subscription, error)) serve.SubscriberFunc {
	return func(ctx context.Context, req *envelope.EgressBatchRequest) (serve.Subscription, error) {
		s, err := subscribe(ctx, req)
		if fh, ok := s.(*nozzle.Firehose); ok && err == nil {
			f.mu.Lock()
			f.list = append(f.list, fh)
			f.mu.Unlock()
		}
		return s, err
	}
}

// Reporter sums the series of every Firehose recorded, open and closed.
func (f *Firehoses) Reporter() stats.Reporter {
	return telemetry.Sum(func() []stats.Reporter {
		f.mu.Lock()
		defer f.mu.Unlock()
		return append([]stats.Reporter(nil), f.list...)
	})
}
