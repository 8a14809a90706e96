package serve

import (
	"context"
	"io"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/sluicelog/sluice/envelope"
)

// gatewayTestQueue is a subscription that holds fixed envelopes, then
// waits for its context.
type gatewayTestQueue struct {
	mu   sync.Mutex
	envs [][]byte
}

func (q *gatewayTestQueue) TryNext() ([]byte, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.envs) == 0 {
		return nil, false
	}
	b := q.envs[0]
	q.envs = q.envs[1:]
	return b, true
}

func (q *gatewayTestQueue) Next(ctx context.Context) ([]byte, error) {
	if b, ok := q.TryNext(); ok {
		return b, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (q *gatewayTestQueue) Close() error { return nil }

// The SSE bytes of a Gateway stream equal Loggregator's gateway's, byte for
// byte. testdata/gateway.sse was written by hand from the rules of
// Loggregator's rlp-gateway (internal/web/read.go) and reverse log proxy
// (egress server, use_preferred_tags), not by running sluice:
//
//   - each frame is "data: " + the EnvelopeBatch as protojson with
//     EmitUnpopulated + "\n\n": int64 and uint64 as strings, bytes in
//     base64, enums by name, every field present (instance_id "",
//     deprecated_tags {}, a counter's "delta":"0", a gauge's "value":0, a
//     stdout log's "type":"OUT"), the JSON names of envelope.proto
//     (source_id, instance_id, deprecated_tags), fields in declaration
//     order and map keys sorted (protojson's order), no spaces;
//   - the gateway asks with use_preferred_tags=true, so deprecated tags are
//     folded into tags as strings (integer 3 -> "3", decimal 0.5 -> "0.5"),
//     winning over a tag of the same name;
//   - the stream ends with "event: closing\ndata: closing due to stream
//     timeout\n\n".
func TestGatewayGoldenSSE(t *testing.T) {
	envs := []*envelope.Envelope{
		{Timestamp: 1, SourceId: "app", InstanceId: "0", Tags: map[string]string{"a": "b"},
			Message: &envelope.Envelope_Log{Log: &envelope.Log{Payload: []byte("hello")}}},
		{Timestamp: 2, SourceId: "app", Tags: map[string]string{"n": "overridden"},
			DeprecatedTags: map[string]*envelope.Value{"n": integer(3), "d": decimal(0.5), "t": text("x")},
			Message:        &envelope.Envelope_Counter{Counter: &envelope.Counter{Name: "requests", Total: 10}}},
		{Timestamp: 3, SourceId: "cell", Message: &envelope.Envelope_Gauge{Gauge: &envelope.Gauge{Metrics: map[string]*envelope.GaugeValue{
			"mem": {Unit: "bytes", Value: 1024.5}, "cpu": {Unit: "percent"},
		}}}},
		{Timestamp: 4, SourceId: "gorouter", Message: &envelope.Envelope_Timer{Timer: &envelope.Timer{Name: "http", Start: 100, Stop: 250}}},
		{Timestamp: 5, SourceId: "app", Message: &envelope.Envelope_Event{Event: &envelope.Event{Title: "crash"}}},
		{Message: &envelope.Envelope_Log{Log: &envelope.Log{Type: envelope.Log_ERR}}},
	}
	q := &gatewayTestQueue{}
	for _, e := range envs {
		b, err := proto.Marshal(e)
		require.NoError(t, err)
		q.envs = append(q.envs, b)
	}
	reqs := make(chan *envelope.EgressBatchRequest, 1)
	_, ts := gatewayTestStart(t, SubscriberFunc(func(_ context.Context, req *envelope.EgressBatchRequest) (Subscription, error) {
		reqs <- req
		return q, nil
	}), WithBatch(3, time.Hour), WithHeartbeat(time.Hour), WithStreamTimeout(time.Second))

	resp, err := http.Get(ts.URL + "/v2/read?log&counter&gauge&timer&event")
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	want, err := os.ReadFile("testdata/gateway.sse")
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
	assert.True(t, (<-reqs).GetUsePreferredTags())
}
