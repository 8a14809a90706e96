package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/sluicelog/sluice/drain"
	"github.com/sluicelog/sluice/envelope"
	"github.com/sluicelog/sluice/harness"
	"github.com/sluicelog/sluice/nozzle"
)

// drainSink is the demo's optional syslog drain: a nozzle of its own shard
// group on the proxy (every kind), publishing into a drain.Manager that
// binds each source it sees to one drain URL.
type drainSink struct {
	url    string
	reader *nozzle.Reader
	drains *drain.Manager
	done   chan struct{}
	read   uint64
	bound  map[string]bool
	err    error
}

const drainShardID = "syslog-drain"

func startDrainSink(topo *harness.Topology, url string) (*drainSink, error) {
	req := &envelope.EgressBatchRequest{ShardId: drainShardID, Selectors: []*envelope.Selector{
		{Message: &envelope.Selector_Log{Log: &envelope.LogSelector{}}},
		{Message: &envelope.Selector_Counter{Counter: &envelope.CounterSelector{}}},
		{Message: &envelope.Selector_Gauge{Gauge: &envelope.GaugeSelector{}}},
		{Message: &envelope.Selector_Timer{Timer: &envelope.TimerSelector{}}},
		{Message: &envelope.Selector_Event{Event: &envelope.EventSelector{}}},
	}}
	// Check the URL before subscribing: a bad one is the user's mistake.
	m, err := drain.NewManager(drain.WithHostname("sluice-firehose"))
	if err != nil {
		return nil, err
	}
	if err := m.SetBindings([]drain.Binding{{SourceID: "check", URL: url}}); err != nil {
		_ = m.Close()
		return nil, err
	}
	_ = m.SetBindings(nil)
	r, err := nozzle.NewReader(topo.Proxy.Addr(), req, nozzle.WithTLS(topo.ClientTLS()))
	if err != nil {
		_ = m.Close()
		return nil, err
	}
	s := &drainSink{url: url, reader: r, drains: m, done: make(chan struct{}), bound: map[string]bool{}}
	go s.run()
	// Load starts once the sink's subscription has reached every router,
	// so that it sees every envelope.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = harness.WaitFor(ctx, func() bool {
		for _, rt := range topo.Routers {
			if rt.Router.Stats().Subscriptions < len(topo.Nozzles)+1 {
				return false
			}
		}
		return true
	})
	if err != nil {
		s.stop(ctx, io.Discard)
		return nil, fmt.Errorf("the drain's nozzle did not subscribe at every router: %w", err)
	}
	return s, nil
}

// run publishes what the nozzle reads; a source seen for the first time is
// bound to the drain before its envelope is published.
func (s *drainSink) run() {
	defer close(s.done)
	for {
		b, err := s.reader.Next(context.Background())
		if errors.Is(err, nozzle.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		s.read++
		if rt, err := envelope.ReadRoute(b); err == nil && !s.bound[rt.SourceID] {
			s.bound[rt.SourceID] = true
			var bs []drain.Binding
			for id := range s.bound {
				bs = append(bs, drain.Binding{SourceID: id, URL: s.url + "?drain-data=all"})
			}
			sort.Slice(bs, func(i, j int) bool { return bs[i].SourceID < bs[j].SourceID })
			if err := s.drains.SetBindings(bs); err != nil && s.err == nil {
				s.err = err
			}
		}
		_ = s.drains.Publish(b)
	}
}

// stop ends the subscription once the nozzle's buffer is read, lets the
// drains deliver, and prints the sink's accounting.
func (s *drainSink) stop(ctx context.Context, w io.Writer) {
	_ = s.reader.Shutdown(ctx)
	<-s.done
	shutErr := s.drains.Shutdown(ctx)
	st := s.drains.Stats()
	d := st.Total.Dropped
	fmt.Fprintf(w, "syslog drain %s: read %d from the proxy (shard group %q), %d drains; sent %d (%d syslog messages), dropped %d (overflow %d, write %d, unformattable %d, closed %d); loss lines %d\n",
		s.url, s.read, drainShardID, len(st.Drains), st.Total.Sent, st.Total.Messages, d.Total(), d.Buffer, d.Write, d.Format, d.Closed, st.LossReports)
	if s.err != nil || shutErr != nil {
		fmt.Fprintf(w, "syslog drain: %v\n", errors.Join(s.err, shutErr))
	}
}
