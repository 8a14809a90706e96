package serve_test

import (
	"context"
	"fmt"

	"github.com/sluicelog/sluice/egress/serve"
	"github.com/sluicelog/sluice/envelope"
)

// Two members of shard "archive" share the logs of app; a subscriber with
// no shard ID gets a copy of each.
func ExampleRouter() {
	r, err := serve.NewRouter()
	if err != nil {
		panic(err)
	}
	defer r.Close()
	logs := []*envelope.Selector{{SourceId: "app", Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}}}
	ctx := context.Background()
	a1, _ := r.Subscribe(ctx, &envelope.EgressBatchRequest{ShardId: "archive", Selectors: logs})
	a2, _ := r.Subscribe(ctx, &envelope.EgressBatchRequest{ShardId: "archive", Selectors: logs})
	tail, _ := r.Subscribe(ctx, &envelope.EgressBatchRequest{Selectors: logs})

	for i := range 4 {
		_ = r.PublishEnvelope(envelope.NewLog("app", []byte(fmt.Sprint("line ", i))))
	}
	count := func(s serve.Subscription) (n int) {
		for _, ok := s.TryNext(); ok; _, ok = s.TryNext() {
			n++
		}
		return n
	}
	fmt.Println("archive members:", count(a1), count(a2))
	fmt.Println("tail:", count(tail))
	st := r.Stats()
	fmt.Println("ingress:", st.Ingress, "egress:", st.Egress, "subscriptions:", st.Subscriptions)
	// Output:
	// archive members: 2 2
	// tail: 4
	// ingress: 4 egress: 8 subscriptions: 3
}
