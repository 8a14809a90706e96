package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sluicelog/sluice/egress/egresstest"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/otlp/internal/collectortest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The nozzle reads what an Egress server plays and the Collector's own
// OTLP receiver gets every envelope: logs and events as log records,
// counters, gauges (one point per metric) and timers as data points.
func TestNozzleExportsEverything(t *testing.T) {
	addr, logs, metrics := collectortest.Start(t)
	var envs []*envelope.Envelope
	for i := range 50 {
		envs = append(envs,
			envelope.NewLog("app", []byte("line "+strconv.Itoa(i))),
			envelope.NewCounter("app", "requests", 1, envelope.WithTotal(uint64(i+1))),
			envelope.NewGauge("app", []envelope.Metric{{Name: "cpu", Value: float64(i)}, {Name: "mem", Value: 1}}),
			envelope.NewTimer("app", "http", time.Unix(0, 0), time.Unix(0, int64(i))),
			envelope.NewEvent("app", "deploy", "v"+strconv.Itoa(i)))
	}
	srv, err := egresstest.NewServer(egresstest.WithEnvelopes(envs...))
	require.NoError(t, err)
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errs bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-addr", srv.Addr(), "-otlp-endpoint", addr, "-shard-id", "otel"}, &out, &errs)
	}()
	require.Eventually(t, func() bool {
		return logs.LogRecordCount() == 100 && metrics.DataPointCount() == 200
	}, 30*time.Second, 10*time.Millisecond, "logs %d, points %d", logs.LogRecordCount(), metrics.DataPointCount())
	cancel()
	require.Equal(t, 0, <-code, "stderr: %s", errs.String())

	var s Summary
	require.NoError(t, json.Unmarshal(out.Bytes(), &s))
	assert.Equal(t, Summary{Read: 250, Queued: 250, Exported: 250, Dropped: map[string]uint64{"queue": 0, "export": 0, "closed": 0}, Balanced: true}, s)
	assert.Equal(t, "otel", srv.Requests()[0].GetShardId())
}

func TestFlags(t *testing.T) {
	var out, errs bytes.Buffer
	assert.Equal(t, 2, run(context.Background(), nil, &out, &errs), "no endpoint")
	assert.Equal(t, 0, run(context.Background(), []string{"-h"}, &out, &errs))
	assert.Contains(t, errs.String(), "-otlp-endpoint")
}
